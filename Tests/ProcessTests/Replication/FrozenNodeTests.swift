import Foundation
import Synchronization
import Testing

/// SIGSTOP/SIGCONT of one node of a 3-node cluster holding a live session (issue 17): pre-vote
/// keeps a frozen replica from deposing the primary when it resumes, and the replicas of a frozen
/// primary elect another on their own timers, once, losing no acknowledged write.
extension ReplicationTests {
    /// How long a node stays frozen: far past every election timeout and gossip's suspicion.
    static let freeze: Duration = .seconds(6)

    /// Records the highest epoch any node of `ids` lists for `session`, polled until stopped, so a
    /// change that came and went between the test's own looks is still seen.
    final class EpochWatch: Sendable {
        private let highest = Mutex<UInt64>(0)
        private let stopped = Atomic<Bool>(false)
        private let task = Mutex<Task<Void, Never>?>(nil)

        init(_ cluster: LocalCluster, session: String, ids: [String]) {
            let poll = Task { [self] in
                while !self.stopped.load(ordering: .relaxed) {
                    for copy in cluster.holders(of: session, among: ids).values {
                        self.highest.withLock { $0 = max($0, copy.epoch) }
                    }
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
            task.withLock { $0 = poll }
        }

        func stop() async -> UInt64 {
            stopped.store(true, ordering: .relaxed)
            await task.withLock { $0 }?.value
            return highest.withLock { $0 }
        }
    }

    @Test("a replica frozen for 6 s (SIGSTOP) and resumed does not change the session's epoch")
    func frozenReplicaKeepsTheEpoch() async throws {
        try await LocalCluster.with(size: 3, nodeFlags: Self.nodeFlags) { cluster in
            let ids = cluster.ids()
            let users = try await GroupUsers.mint(for: cluster, group: "frozen-replica", memberCount: 6)
            let started = try await Self.startSession(cluster, users, at: "n1", title: "frozen replica")
            let (primary, copy) = try #require(cluster.primary(of: started.id, among: ids))
            let victim = try #require(copy.members.first { $0 != primary })
            let watch = EpochWatch(cluster, session: started.id, ids: ids)

            try await cluster.kill(victim, signal: "STOP")
            try await Task.sleep(for: Self.freeze)
            try await cluster.kill(victim, signal: "CONT")

            // Back: gossip sees every node alive again, and a comment written after that reaches
            // the resumed copy, so its timers, its directory and its pre-votes have all run.
            try await waitUntil("every node to see every other alive", timeout: 20) {
                try ids.allSatisfy { id in try cluster.memberStates(seenBy: id).values.allSatisfy { $0 == "alive" } }
            }
            for i in 0..<3 {
                let r = try await users.call(
                    cluster,
                    at: primary,
                    "POST",
                    "/live/comments",
                    as: "u\(i)",
                    json: #"{"text":"after-\#(i)","id":"after-\#(i)"}"#
                )
                #expect(r.status == 201, "comment after the freeze: \(r.status) \(r.body)")
            }
            _ = try await cluster.waitForConvergence(of: started.id, among: ids, replicas: 3, timeout: 15)
            let highest = await watch.stop()
            let copies = cluster.holders(of: started.id, among: ids)
            #expect(highest == copy.epoch, "the epoch went from \(copy.epoch) to \(highest)")
            #expect(copies[primary]?.role == "primary", "copies after the freeze: \(copies)")
            for (id, held) in copies { #expect(held.epoch == copy.epoch, "\(id): \(held)") }
        }
    }

    @Test(
        "the primary frozen for 6 s under writes: one failover, every acknowledged comment kept, the old primary resumes as a replica and deposes nobody"
    )
    func frozenPrimaryUnderWrites() async throws {
        try await LocalCluster.with(size: 3, nodeFlags: Self.nodeFlags) { cluster in
            let ids = cluster.ids()
            let users = try await GroupUsers.mint(for: cluster, group: "frozen-primary", memberCount: 12)
            let started = try await Self.startSession(cluster, users, at: "n1", title: "frozen primary")
            let (victim, victimCopy) = try #require(cluster.primary(of: started.id, among: ids))
            let others = ids.filter { $0 != victim }
            // Writers use the two nodes that keep running (a client of a frozen node just waits);
            // their writes are forwarded to the primary, the frozen one included.
            let writer = CommentWriter(cluster: cluster, users: users, nodes: others)
            writer.start()
            try await waitUntil("20 comments acknowledged before the freeze", timeout: 15) { writer.ackedCount >= 20 }
            let watch = EpochWatch(cluster, session: started.id, ids: others)

            try await cluster.kill(victim, signal: "STOP")
            let ackedAtFreeze = writer.ackedCount
            let promoted = try await cluster.waitForPrimary(
                of: started.id,
                among: others,
                above: victimCopy.epoch,
                timeout: 10
            )
            try await waitUntil("20 more comments acknowledged while the old primary is frozen", timeout: 20) {
                writer.ackedCount >= ackedAtFreeze + 20
            }
            try await Task.sleep(for: Self.freeze)
            try await cluster.kill(victim, signal: "CONT")

            try await waitUntil("the resumed \(victim) to follow \(promoted.node)", timeout: 15) {
                guard let held = try cluster.held(started.id, on: victim) else { return false }
                return held.role != "primary" && held.primary == promoted.node && held.epoch == promoted.copy.epoch
            }
            let ackedAtResume = writer.ackedCount
            try await waitUntil("10 more comments acknowledged after the resume", timeout: 20) {
                writer.ackedCount >= ackedAtResume + 10
            }
            let report = await writer.stop()
            #expect(report.unexpected.isEmpty, "answers no retry can fix: \(report.unexpected.prefix(10))")

            let (primary, members) = try await cluster.waitForConvergence(
                of: started.id,
                among: ids,
                replicas: 3,
                timeout: 15
            )
            let highest = await watch.stop()
            // The freeze costs one failover (two election rounds when the replicas' timers split
            // the vote); the resumed old primary then deposes nobody: no epoch after the new
            // primary's.
            #expect(highest == promoted.copy.epoch, "after \(promoted.node) won epoch \(promoted.copy.epoch), \(highest)")
            #expect(primary == promoted.node)
            for (id, held) in cluster.holders(of: started.id, among: ids) {
                #expect(held.epoch == promoted.copy.epoch, "\(id): \(held)")
            }
            let lastSeq = try await Self.lastEventSeq(cluster, users, at: primary)
            let logs = try await ReplicaLogs.read(cluster, users, from: members, upTo: lastSeq)
            logs.expectOneTotalOrder()
            logs.expectComments(of: report)
            print(
                "frozenPrimaryUnderWrites: \(report.acked.count) acknowledged (\(report.ackedAfterRetry) after retries), "
                    + "statuses \(report.statuses), \(victim) -> \(promoted.node) at epoch \(promoted.copy.epoch)"
            )
        }
    }
}
