import Foundation
import Testing

/// A replica's log damaged while its node is down: a flipped byte in the middle and a cut tail.
@Suite("Corrupt logs on real processes", .serialized)
struct CorruptLogTests {
    @Test("a copy with a flipped byte and a cut tail: the node starts, quarantines it, catches up, serves the same log")
    func corruptCopyCatchesUp() async throws {
        try await LocalCluster.with(size: 3, nodeFlags: ["--replicas", "3"]) { cluster in
            let ids = cluster.ids()
            let users = try await GroupUsers.mint(for: cluster, group: "corrupt", memberCount: 18)
            let started = try await ReplicationTests.startSession(cluster, users, at: "n1", title: "corrupt")
            let writer = CommentWriter(cluster: cluster, users: users, nodes: ids)
            writer.start()
            try await waitUntil("40 comments acknowledged", timeout: 20) { writer.ackedCount >= 40 }
            let before = await writer.stop()
            #expect(before.unexpected.isEmpty, "\(before.unexpected.prefix(5))")
            _ = try await cluster.waitForConvergence(of: started.id, among: ids, replicas: 3, timeout: 15)

            // A replica (not the primary) goes down and its log is damaged.
            let (primary, _) = try #require(cluster.primary(of: started.id, among: ids))
            let victim = try #require(ids.first { $0 != primary })
            try await cluster.kill(victim)
            let sessionDir = StorageSupport.dataDir(cluster, victim) + "/groups/\(users.group)/\(started.id)"
            let logPath = sessionDir + "/replication.log"
            var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: logPath)))
            try #require(bytes.count > 200, "log of \(bytes.count) bytes")
            bytes[bytes.count / 2] ^= 0xFF
            bytes.removeLast(7)
            try Data(bytes).write(to: URL(fileURLWithPath: logPath))

            // The others go on meanwhile.
            let others = ids.filter { $0 != victim }
            let during = CommentWriter(cluster: cluster, users: users, nodes: others)
            during.start()
            try await waitUntil("20 comments acknowledged while the copy is down", timeout: 20) {
                during.ackedCount >= 20
            }
            let duringReport = await during.stop()
            #expect(duringReport.unexpected.isEmpty, "\(duringReport.unexpected.prefix(5))")

            // It starts, moves the damaged file aside, and catches up.
            try await cluster.restart(victim)
            let files = try FileManager.default.contentsOfDirectory(atPath: sessionDir)
            let aside = files.filter { $0.hasPrefix("replication.log.corrupt-") }
            #expect(aside.count == 1, "files in the copy's directory: \(files)")
            let log = try String(contentsOf: cluster.dir.appendingPathComponent("\(victim)/node.log"), encoding: .utf8)
            #expect(log.contains("session log damaged"), "the damage is not in \(victim)'s log")

            let after = CommentWriter(cluster: cluster, users: users, nodes: ids)
            after.start()
            try await waitUntil("20 comments acknowledged after the restart", timeout: 30) { after.ackedCount >= 20 }
            let afterReport = await after.stop()
            #expect(afterReport.unexpected.isEmpty, "\(afterReport.unexpected.prefix(5))")

            let report = StorageSupport.merge(StorageSupport.merge(before, duringReport), afterReport)
            let (newPrimary, members) = try await cluster.waitForConvergence(
                of: started.id,
                among: ids,
                replicas: 3,
                timeout: 30
            )
            #expect(members.contains(victim), "the damaged copy is not a member again: \(members)")
            let lastSeq = try await ReplicationTests.lastEventSeq(cluster, users, at: newPrimary)
            let logs = try await ReplicaLogs.read(cluster, users, from: members, upTo: lastSeq)
            logs.expectOneTotalOrder()
            logs.expectComments(of: report)
            let reference = try await StorageSupport.comments(cluster, users, at: newPrimary)
            let repaired = try await StorageSupport.comments(cluster, users, at: victim)
            #expect(repaired.map(\.seq) == reference.map(\.seq) && repaired.map(\.text) == reference.map(\.text))
        }
    }
}
