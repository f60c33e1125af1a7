import Foundation

/// A crowd grabbing one red packet: every user is its own client, asking through a random node
/// and asking again (same user, any node) until it gets a definitive answer: an amount (201 or
/// 200) or 410. No answer, 429, 502, 503 and 504 are retried with backoff until the user's
/// deadline, as an app would while the cluster fails over. Remembers every answer.
final class GrabStorm: @unchecked Sendable {
    struct Answer: CustomStringConvertible {
        var node: String
        var status: Int
        var body: String
        var description: String { "\(node):\(status) \(body.prefix(120))" }
    }

    /// What one user's asking came to.
    struct Outcome {
        var answers: [Answer] = []
        /// The amount and seq of the 2xx answer that ended its asking.
        var amount: Int64?
        var seq: UInt64?
        /// The 410 code (`empty`, `expired`) that ended its asking.
        var gone: String?
        /// The node whose definitive answer ended the asking.
        var answeredBy: String?
        var resolved: Bool { amount != nil || gone != nil }
        /// Tries before the definitive answer (retried failures).
        var retries: Int { max(0, answers.count - 1) }
    }

    private let cluster: LocalCluster
    private let users: GroupUsers
    private let packet: String
    private let nodes: [String]
    private let deadline: Duration
    private let lock = NSLock()
    private var outcomes: [String: Outcome] = [:]
    private var unexpected: [String] = []

    init(cluster: LocalCluster, users: GroupUsers, packet: String, nodes: [String], deadline: Duration = .seconds(45)) {
        self.cluster = cluster
        self.users = users
        self.packet = packet
        self.nodes = nodes
        self.deadline = deadline
    }

    /// Users whose asking ended with an amount so far.
    var winnerCount: Int { lock.withLock { outcomes.values.filter { $0.amount != nil }.count } }
    var snapshot: [String: Outcome] { lock.withLock { outcomes } }
    /// Answers no retry can fix (anything but 2xx, 410 and the retried statuses).
    var unexpectedAnswers: [String] { lock.withLock { unexpected } }

    /// Asks as `user` until a definitive answer or the deadline.
    func grab(as user: String) async {
        let giveUp = ContinuousClock.now + deadline
        var backoff = 100
        while true {
            let node = nodes.randomElement()!
            let answer = try? await users.call(
                cluster,
                at: node,
                "POST",
                "/live/redpackets/\(packet)/grab",
                as: user,
                timeout: 12
            )
            let status = answer?.status ?? 0
            let body = answer?.body ?? ""
            let json = LiveFixture.object(body)
            var done = true
            lock.withLock {
                outcomes[user, default: Outcome()].answers.append(Answer(node: node, status: status, body: body))
                switch status {
                case 200, 201:
                    outcomes[user]!.amount = (json["amount"] as? NSNumber)?.int64Value
                    outcomes[user]!.seq = (json["seq"] as? NSNumber)?.uint64Value
                    outcomes[user]!.answeredBy = node
                case 410:
                    outcomes[user]!.gone = RedPackets.error(body).code
                    outcomes[user]!.answeredBy = node
                case 0, 429, 502, 503, 504:
                    done = ContinuousClock.now >= giveUp
                default:
                    unexpected.append("\(user) at \(node): \(status) \(body)")
                }
            }
            if done { return }
            // Backoff with jitter, so 200 clients refused at once do not come back at once (nor
            // spawn curls fast enough to starve the nodes of the two cores they share).
            try? await Task.sleep(for: .milliseconds(backoff + Int.random(in: 0...backoff)))
            backoff = min(backoff * 2, 1_000)
        }
    }
}
