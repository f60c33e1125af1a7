import Foundation
import Testing

extension ReplicationTests {
    @Test(
        "rolling restart of all 5 nodes under writes (SIGTERM drains each): nothing acknowledged is lost or repeated, viewers see no gap"
    )
    func rollingRestart() async throws {
        try await LocalCluster.with(size: 5, nodeFlags: Self.nodeFlags) { cluster in
            let ids = cluster.ids()
            let users = try await GroupUsers.mint(for: cluster, group: "rolling", memberCount: 18)
            let started = try await Self.startSession(cluster, users, at: "n1", title: "rolling")

            // Two viewers as an EventSource would be: one on a replica, one entering at a node that
            // may hold no replica (it follows the redirect). Both resume with Last-Event-ID when
            // their node goes down; every node goes down once.
            let entry = ids.first { !started.replicas.contains($0) } ?? "n5"
            let viewers = try [started.replicas[0], entry].map {
                try ResumingViewer(url: users.url(cluster, $0, "/live/events?after=0"), token: users.token("u0"))
            }
            defer { viewers.forEach { $0.stop() } }
            for viewer in viewers { try await viewer.waitFor(seq: 1, timeout: 10) }
            let writer = CommentWriter(cluster: cluster, users: users, nodes: ids)
            writer.start()
            try await waitUntil("20 comments acknowledged before the first restart", timeout: 15) {
                writer.ackedCount >= 20
            }

            for id in ids {
                let before = writer.ackedCount
                _ = try await cluster.script("restart", ["--graceful", id], timeout: 90)
                try await waitUntil("10 more comments acknowledged after restarting \(id)", timeout: 20) {
                    writer.ackedCount >= before + 10
                }
                // Keep the viewers resuming while the next node goes.
                let survivor = ids.first { $0 != id } ?? "n1"
                let seq = try await Self.lastEventSeq(cluster, users, at: survivor)
                for viewer in viewers { try await viewer.waitFor(seq: seq, timeout: 20) }
            }
            let report = await writer.stop()
            #expect(report.unexpected.isEmpty, "answers no retry can fix: \(report.unexpected.prefix(10))")

            let (primary, members) = try await cluster.waitForConvergence(
                of: started.id,
                among: ids,
                replicas: 3,
                timeout: 20
            )
            let lastSeq = try await Self.lastEventSeq(cluster, users, at: primary)
            #expect(lastSeq >= report.acked.values.max() ?? 0)
            let logs = try await ReplicaLogs.read(cluster, users, from: members, upTo: lastSeq)
            logs.expectOneTotalOrder()
            logs.expectComments(of: report)
            for (i, viewer) in viewers.enumerated() {
                let seen = try await viewer.waitFor(seq: lastSeq, timeout: 20).filter { $0.seq <= lastSeq }
                ReplicaLogs.expectContiguous(seen, upTo: lastSeq, "viewer \(i) (\(viewer.url)) across the restarts")
                #expect(seen == logs.logs[members[0]], "viewer \(i)'s log differs from \(members[0])'s")
            }
            print(
                "rollingRestart: \(report.acked.count) acknowledged (\(report.ackedAfterRetry) after retries), "
                    + "\(report.unacknowledged.count) unacknowledged, statuses \(report.statuses); members \(members), "
                    + "lastSeq \(lastSeq), viewer reconnects \(viewers.map(\.reconnects))"
            )
        }
    }
}
