import Foundation
import Testing

extension ReplicationTests {
    @Test(
        "drain of the primary under writes: another replica takes over, nothing is lost or repeated, viewers see no gap"
    )
    func drainPrimary() async throws {
        try await LocalCluster.with(size: 5, nodeFlags: Self.nodeFlags) { cluster in
            let ids = cluster.ids()
            let users = try await GroupUsers.mint(for: cluster, group: "drain", memberCount: 18)
            let started = try await Self.startSession(cluster, users, at: "n1", title: "drain")

            // A viewer of a replica other than the primary, connected before the drain (and
            // reconnecting with Last-Event-ID if its stream ends), and writers through random nodes.
            let watched = try #require(started.replicas.first { $0 != started.primary })
            let viewer = try ResumingViewer(
                url: users.url(cluster, watched, "/live/events?after=0"),
                token: users.token("u0")
            )
            defer { viewer.stop() }
            try await viewer.waitFor(seq: 1, timeout: 10)
            let writer = CommentWriter(cluster: cluster, users: users, nodes: ids)
            writer.start()
            try await waitUntil("30 comments acknowledged before the drain", timeout: 15) { writer.ackedCount >= 30 }

            // Drain whichever node is primary now.
            let (drained, drainedCopy) = try #require(cluster.primary(of: started.id, among: ids))
            let others = ids.filter { $0 != drained }
            let drain = try await Curl.call(
                "POST",
                "\(cluster.url(of: drained))/admin/v1/drain",
                token: cluster.adminToken
            )
            #expect(drain.status == 202, "drain: \(drain.status) \(drain.body)")
            let ackedAtDrain = writer.ackedCount
            let promoted = try await cluster.waitForPrimary(
                of: started.id,
                among: others,
                above: drainedCopy.epoch,
                timeout: 10
            )
            try await waitUntil("30 more comments acknowledged after the drain", timeout: 20) {
                writer.ackedCount >= ackedAtDrain + 30
            }
            let report = await writer.stop()
            #expect(report.unexpected.isEmpty, "answers no retry can fix: \(report.unexpected.prefix(10))")

            // The drained node is not ready and no longer primary.
            #expect(try httpGet(port: cluster.port(of: drained), path: "/readyz").status == 503)
            #expect(try cluster.held(started.id, on: drained)?.role != "primary")

            // Every replica holds every acknowledged comment once, in one gapless order, and so
            // does the viewer that watched through the handover.
            let (primary, members) = try await cluster.waitForConvergence(
                of: started.id,
                among: ids,
                replicas: 3,
                timeout: 10
            )
            let lastSeq = try await Self.lastEventSeq(cluster, users, at: primary)
            #expect(!members.contains(drained), "\(drained) still holds the session after its drain: \(members)")
            #expect(lastSeq >= report.acked.values.max() ?? 0)
            let logs = try await ReplicaLogs.read(cluster, users, from: members, upTo: lastSeq)
            logs.expectOneTotalOrder()
            logs.expectComments(of: report)
            let watchedLog = try await viewer.waitFor(seq: lastSeq, timeout: 10).filter { $0.seq <= lastSeq }
            ReplicaLogs.expectContiguous(watchedLog, upTo: lastSeq, "the viewer of \(watched) during the drain")
            #expect(watchedLog == logs.logs[members[0]], "the viewer's log differs from \(members[0])'s")

            print(
                "drainPrimary: \(report.acked.count) acknowledged (\(report.ackedAfterRetry) after retries), "
                    + "\(report.unacknowledged.count) unacknowledged, statuses \(report.statuses); \(drained) -> "
                    + "\(promoted.node) at epoch \(promoted.copy.epoch), members \(members), lastSeq \(lastSeq)"
                    + ", viewer reconnects \(viewer.reconnects)"
            )
        }
    }
}
