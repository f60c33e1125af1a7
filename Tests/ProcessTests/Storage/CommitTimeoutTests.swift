import Foundation
import Testing

extension DiskFullTests {
    /// The gap fail-stop logs leave: the replicas' disks fill while the primary's has room. The
    /// replicas keep following (heartbeats answered) but acknowledge no entry, so the primary
    /// keeps its role and cannot commit. Before `--commit-timeout` its writers waited until
    /// their own timeout (curl's 30 s here: status 0).
    @Test(
        "replicas' disks full, the primary's not: a write is answered 503 no_quorum after --commit-timeout; once space returns its retry is applied once"
    )
    func writeWithoutDurableReplicasIsAnswered() async throws {
        let flags = ["--replicas", "3", "--min-free-disk", "0", "--commit-timeout", "2s"]
        try await StorageSupport.withTmpfsCluster(size: 3, tmpfs: "8m", nodeFlags: flags) { cluster in
            let ids = cluster.ids()
            let users = try await GroupUsers.mint(for: cluster, group: "quorum", memberCount: 40)
            let live = try await ReplicationTests.startSession(cluster, users, at: "n1", title: "quorum")
            let first = try await users.call(
                cluster,
                at: live.primary,
                "POST",
                "/live/comments",
                as: "u0",
                json: #"{"text":"before","id":"q0"}"#
            )
            try #require(first.status == 201, "\(first.status) \(first.body)")

            let replicas = ids.filter { $0 != live.primary }
            for id in replicas { try await StorageSupport.fill(StorageSupport.dataDir(cluster, id)) }
            // The replicas' logs fail once their last page is full: a few more records fit.
            var acknowledged = ["before"]
            var stuck = (status: 0, body: "")
            var stuckText = ""
            var stuckUser = ""
            for i in 1...200 {
                // Many users: one user's writes are rate limited.
                stuckText = "after fill \(i)"
                stuckUser = "u\(i % 40)"
                stuck = try await users.call(
                    cluster,
                    at: live.primary,
                    "POST",
                    "/live/comments",
                    as: stuckUser,
                    json: #"{"text":"\#(stuckText)","id":"q\#(i)"}"#,
                    timeout: 30
                )
                guard stuck.status == 201 else { break }
                acknowledged.append(stuckText)
            }
            #expect(stuck.status == 503, "\(stuck.status) \(stuck.body)")
            #expect(stuck.body.contains("no_quorum"), "\(stuck.body)")
            let stuckID = "q\(acknowledged.count)"

            // Space returns: the replicas' logs recover and the entry commits; the client's retry
            // with the same id gets the same write, applied once.
            for id in replicas { StorageSupport.free(StorageSupport.dataDir(cluster, id)) }
            try await waitUntil("the retried write to be acknowledged", timeout: 30) {
                let retried = try await users.call(
                    cluster,
                    at: live.primary,
                    "POST",
                    "/live/comments",
                    as: stuckUser,
                    json: #"{"text":"\#(stuckText)","id":"\#(stuckID)"}"#,
                    timeout: 10
                )
                return retried.status == 201
            }
            for id in ids {
                try await waitUntil("\(id) to show every acknowledged comment once", timeout: 20) {
                    let texts = try await StorageSupport.comments(cluster, users, at: id).map(\.text)
                    return texts == acknowledged + [stuckText]
                }
            }
        }
    }
}
