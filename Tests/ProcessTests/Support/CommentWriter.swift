import Foundation

/// Comments posted as a crowd of clients posts them while the test does something to the cluster:
/// each comment with its own idempotency id (also its text), sent to a random node; a 503, 502,
/// 504, 429 or a failed connection is retried with the same id through another random node until
/// the comment's own deadline. Remembers what every comment came to.
final class CommentWriter: @unchecked Sendable {
    struct Report {
        /// Comment id -> the seq its 2xx answer gave.
        var acked: [String: UInt64] = [:]
        /// Comments never acknowledged: each may be in the log at most once.
        var unacknowledged: [String] = []
        /// Answers no retry can fix (anything but 2xx and the retried statuses), with the node.
        var unexpected: [String] = []
        /// Acknowledged only after one or more retries (their first tries may have been applied).
        var ackedAfterRetry = 0
        /// Answers by status (0: no answer).
        var statuses: [Int: Int] = [:]
    }

    private let cluster: LocalCluster
    private let users: GroupUsers
    private let nodes: [String]
    private let clients: Int
    private let pause: Duration
    private let writeDeadline: Duration
    /// Statuses retried besides 0, 429, 502, 503 and 504 (e.g. 507 while disks recover).
    private let alsoRetried: Set<Int>
    private let lock = NSLock()
    private var report = Report()
    private var stopping = false
    private var task: Task<Void, Never>?

    /// `clients` concurrent clients write through `nodes`, each pausing `pause` between comments and
    /// giving up on a comment after `writeDeadline`; client `c` writes as members `u(c)`,
    /// `u(c + clients)`, … in turn, which keeps every user under the rate limit.
    init(
        cluster: LocalCluster,
        users: GroupUsers,
        nodes: [String],
        clients: Int = 3,
        pause: Duration = .milliseconds(80),
        writeDeadline: Duration = .seconds(15),
        alsoRetried: Set<Int> = []
    ) {
        self.alsoRetried = alsoRetried
        self.cluster = cluster
        self.users = users
        self.nodes = nodes
        self.clients = clients
        self.pause = pause
        self.writeDeadline = writeDeadline
    }

    func start() {
        task = Task {
            await withTaskGroup(of: Void.self) { group in
                for client in 0..<clients {
                    group.addTask { await self.runClient(client) }
                }
            }
        }
    }

    /// How many comments have been acknowledged so far.
    var ackedCount: Int { lock.withLock { report.acked.count } }

    /// How many answers so far had `status` (0: no answer).
    func count(status: Int) -> Int { lock.withLock { report.statuses[status] ?? 0 } }

    /// Stops sending new comments, lets every comment in flight finish (or reach its deadline),
    /// and returns what they all came to.
    func stop() async -> Report {
        lock.withLock { stopping = true }
        await task?.value
        return lock.withLock { report }
    }

    private var isStopping: Bool { lock.withLock { stopping } }

    private func runClient(_ client: Int) async {
        let own = users.members.enumerated().filter { $0.offset % clients == client }.map(\.element)
        var n = 0
        while !isStopping {
            await write(id: "c\(client)-\(n)", as: own[n % own.count])
            n += 1
            try? await Task.sleep(for: pause)
        }
    }

    private func write(id: String, as user: String) async {
        let deadline = ContinuousClock.now + writeDeadline
        var tries = 0
        while true {
            tries += 1
            let node = nodes.randomElement()!
            let answer = try? await users.call(
                cluster,
                at: node,
                "POST",
                "/live/comments",
                as: user,
                json: #"{"text":"\#(id)","id":"\#(id)"}"#,
                timeout: 12
            )
            let status = answer?.status ?? 0
            lock.withLock { report.statuses[status, default: 0] += 1 }
            if (200..<300).contains(status),
                let seq = (LiveFixture.object(answer!.body)["seq"] as? NSNumber)?.uint64Value
            {
                lock.withLock {
                    report.acked[id] = seq
                    if tries > 1 { report.ackedAfterRetry += 1 }
                }
                return
            }
            let retried = [0, 429, 502, 503, 504].contains(status) || alsoRetried.contains(status)
            if retried, ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(status == 429 ? 300 : 50))
                continue
            }
            lock.withLock {
                report.unacknowledged.append(id)
                if !retried {
                    report.unexpected.append("\(id) at \(node): \(status) \(answer?.body ?? "")")
                }
            }
            return
        }
    }
}
