import Foundation
import Testing

extension ReplicationTests {
    @Test("kill -9 of the primary under writes: every acknowledged comment survives exactly once, in one gapless order")
    func failoverUnderWrites() async throws {
        try await LocalCluster.with(size: 5, nodeFlags: Self.nodeFlags) { cluster in
            let ids = cluster.ids()
            let users = try await GroupUsers.mint(for: cluster, group: "failover", memberCount: 18)
            let started = try await Self.startSession(cluster, users, at: "n1", title: "failover")

            // A crowd writes through random nodes (the victim included: its refused connections
            // are retried elsewhere with the same id) while the primary dies.
            let writer = CommentWriter(cluster: cluster, users: users, nodes: ids)
            writer.start()
            try await waitUntil("30 comments acknowledged before the kill", timeout: 15) { writer.ackedCount >= 30 }
            let (victim, victimCopy) = try #require(cluster.primary(of: started.id, among: ids))
            try await cluster.kill(victim)
            let ackedAtKill = writer.ackedCount
            let survivors = ids.filter { $0 != victim }
            let promoted = try await cluster.waitForPrimary(
                of: started.id,
                among: survivors,
                above: victimCopy.epoch,
                timeout: 10
            )
            #expect(promoted.copy.epoch > 1)
            try await waitUntil("30 more comments acknowledged after the kill", timeout: 20) {
                writer.ackedCount >= ackedAtKill + 30
            }
            let report = await writer.stop()
            #expect(report.unexpected.isEmpty, "answers no retry can fix: \(report.unexpected.prefix(10))")

            // Every replica the new primary lists streams the same complete log.
            let (primary, members) = try await cluster.waitForConvergence(
                of: started.id,
                among: survivors,
                replicas: 3,
                timeout: 10
            )
            let lastSeq = try await Self.lastEventSeq(cluster, users, at: primary)
            #expect(!members.contains(victim), "members after the failover: \(members)")
            let maxAcked = report.acked.values.max() ?? 0
            #expect(lastSeq >= maxAcked, "the replicas' last seq \(lastSeq) is below an acknowledged seq \(maxAcked)")
            let logs = try await ReplicaLogs.read(cluster, users, from: members, upTo: lastSeq)
            logs.expectOneTotalOrder()
            logs.expectComments(of: report)

            // A viewer of a node holding no replica, proxied, leaves half way and comes back through
            // a redirect with Last-Event-ID; more comments arrive while it follows live. It gets
            // the same log with no gap and no repeat.
            let outsider = try #require(survivors.first { !members.contains($0) }, "no node outside \(members)")
            let first = try EventReader(
                url: users.url(cluster, outsider, "/live/events?after=0"),
                token: users.token("u1"),
                headers: ["Qunbo-Route: proxy"]
            )
            let half = lastSeq / 2
            let part1 = try await first.waitFor(seq: half, timeout: 10).filter { $0.seq <= half }
            first.stop()
            let second = try EventReader(
                url: users.url(cluster, outsider, "/live/events"),
                token: users.token("u1"),
                lastEventID: half,
                followRedirects: true
            )
            defer { second.stop() }
            try await second.waitFor(seq: lastSeq, timeout: 10)
            var finalSeq = lastSeq
            for i in 0..<3 {
                let r = try await users.call(
                    cluster,
                    at: outsider,
                    "POST",
                    "/live/comments",
                    as: "u2",
                    json: #"{"text":"after-\#(i)","id":"after-\#(i)"}"#
                )
                #expect(r.status == 201, "comment after the failover: \(r.status) \(r.body)")
                finalSeq = max(finalSeq, (LiveFixture.object(r.body)["seq"] as? NSNumber)?.uint64Value ?? 0)
            }
            let part2 = try await second.waitFor(seq: finalSeq, timeout: 10)
            let resumed = part1 + part2
            ReplicaLogs.expectContiguous(resumed, upTo: finalSeq, "proxied then resumed viewer at \(outsider)")
            #expect(
                Array(resumed.prefix(Int(lastSeq))) == logs.logs[members[0]],
                "the resumed viewer's log differs from \(members[0])'s"
            )
            #expect(resumed.suffix(3).map(\.text) == ["after-0", "after-1", "after-2"])

            print(
                "failoverUnderWrites: \(report.acked.count) acknowledged (\(report.ackedAfterRetry) after retries), "
                    + "\(report.unacknowledged.count) unacknowledged, statuses \(report.statuses), \(victim) -> "
                    + "\(promoted.node) at epoch \(promoted.copy.epoch), members \(members), lastSeq \(lastSeq)"
            )
        }
    }
}
