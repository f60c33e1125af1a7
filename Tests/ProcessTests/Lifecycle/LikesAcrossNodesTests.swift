import Foundation
import Testing

extension SessionLifecycleTests {
    /// How long a node may take to show likes counted elsewhere (they may be flushed a second or
    /// two after they are acknowledged).
    static let likesDeadline = 6.0

    @Test(
        "likes read the same at every node (session, SSE stats, replay list), survive kill -9 of the primary, and add up after the failover"
    )
    func likesAgreeAcrossNodes() async throws {
        try await LocalCluster.with(size: 3, nodeFlags: Self.nodeFlags) { cluster in
            let ids = cluster.ids()
            let users = try await GroupUsers.mint(for: cluster, group: "likes", memberCount: 4)
            let live = try await Self.startLive(cluster, users, at: "n1", title: "likes", record: true)

            // A viewer of the event stream at every node (each holds a replica).
            let viewers = try ids.map {
                ($0, try EventReader(url: users.url(cluster, $0, "/live/events"), token: users.token("u3")))
            }
            defer { for (_, viewer) in viewers { viewer.stop() } }
            for (id, viewer) in viewers {
                do { try await viewer.waitFor(seq: 1, timeout: 10) } catch {
                    Issue.record("the viewer at \(id) never got the started event: \(error)")
                    throw error
                }
            }

            // Three likes, one through each node (forwarded to the primary): each is acknowledged
            // with the running total.
            var totals: [Int] = []
            for (i, id) in ids.enumerated() {
                let r = try await users.call(cluster, at: id, "POST", "/live/likes", as: "u\(i)", json: #"{"count":1}"#)
                try #require(r.status == 202, "POST /live/likes at \(id): \(r.status) \(r.body)")
                totals.append(LiveFixture.object(r.body)["likes"] as? Int ?? -1)
            }
            #expect(totals == [1, 2, 3], "the likes' answers gave totals \(totals)")

            // Every node shows 3: in the session object and in its viewers' stats.
            await expectLikes(3, cluster, users, at: ids, "after 3 likes through \(ids)")
            var streamed: [String: Int] = [:]
            let allStreamed =
                (try? await waitUntil("stats with 3 likes on every node's event stream", timeout: Self.likesDeadline) {
                    for (id, viewer) in viewers { streamed[id] = Self.lastStatsLikes(viewer.text) }
                    return ids.allSatisfy { streamed[$0] == 3 }
                }) != nil
            #expect(
                allStreamed,
                "the last stats event on each node's event stream says likes \(ids.map { "\($0): \(streamed[$0].map(String.init) ?? "none")" }.joined(separator: ", ")); expected 3 at every node"
            )
            for (_, viewer) in viewers { viewer.stop() }

            // The primary dies; a surviving node takes over (a write through a survivor succeeds).
            let (victim, victimCopy) = try #require(cluster.primary(of: live.id, among: ids))
            try await cluster.kill(victim)
            let survivors = ids.filter { $0 != victim }
            let promoted = try await cluster.waitForPrimary(
                of: live.id,
                among: survivors,
                above: victimCopy.epoch,
                timeout: 20
            )
            var comment = (status: 0, body: "")
            do {
                try await waitUntil("a comment through \(survivors[0]) to be acknowledged after the kill", timeout: 20)
                {
                    comment = try await users.call(
                        cluster,
                        at: survivors[0],
                        "POST",
                        "/live/comments",
                        as: "u3",
                        json: #"{"text":"after the failover","id":"after-failover"}"#
                    )
                    return comment.status == 201
                }
            } catch {
                Issue.record("\(error): last answer \(comment.status) \(comment.body)\n\(cluster.logs())")
                throw error
            }

            // The 3 likes are still counted at every survivor.
            await expectLikes(3, cluster, users, at: survivors, "after kill -9 of the primary \(victim)")

            // More likes after the failover add to them.
            let more = try await users.call(
                cluster,
                at: survivors[1],
                "POST",
                "/live/likes",
                as: "u0",
                json: #"{"count":2}"#
            )
            try #require(more.status == 202, "POST /live/likes at \(survivors[1]): \(more.status) \(more.body)")
            #expect(
                LiveFixture.object(more.body)["likes"] as? Int == 5,
                "2 more likes after the failover answered \(more.body), not a total of 5"
            )
            await expectLikes(5, cluster, users, at: survivors, "after 2 more likes through \(survivors[1])")

            // The host ends it; the replay list shows the 5 likes at every survivor.
            let ended = try await users.call(cluster, at: survivors[0], "DELETE", "/live", as: "host")
            try #require(ended.status == 200, "DELETE /live at \(survivors[0]): \(ended.status) \(ended.body)")
            var listed: [String: String] = [:]
            let replaysAgree =
                (try? await waitUntil("the replay list at every survivor to show 5 likes", timeout: Self.likesDeadline)
                {
                    for id in survivors {
                        let r = try await users.call(cluster, at: id, "GET", "/replays", as: "u0")
                        let list = (try? JSONSerialization.jsonObject(with: Data(r.body.utf8))) as? [[String: Any]]
                        if r.status == 200, let entry = list?.first(where: { $0["id"] as? String == live.id }) {
                            listed[id] = entry["likes"].map { "\($0)" } ?? "missing"
                        } else {
                            listed[id] = "\(r.status) \(r.body)"
                        }
                    }
                    return survivors.allSatisfy { listed[$0] == "5" }
                }) != nil
            #expect(
                replaysAgree,
                "GET /replays lists the session with likes \(survivors.map { "\($0): \(listed[$0] ?? "?")" }.joined(separator: ", ")); expected 5 at every survivor"
            )
            print(
                "likesAgreeAcrossNodes: primary \(live.primary) killed (\(victim)), new primary \(promoted.node) "
                    + "epoch \(promoted.copy.epoch); like answers \(totals), then \(more.body)"
            )
        }
    }

    /// Waits until `GET …/live` at every node of `ids` shows `likes`; records what each shows if not.
    func expectLikes(
        _ likes: Int,
        _ cluster: LocalCluster,
        _ users: GroupUsers,
        at ids: [String],
        _ when: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        var seen: [String: String] = [:]
        let agreed =
            (try? await waitUntil("every node of \(ids) to show \(likes) likes", timeout: Self.likesDeadline) {
                for id in ids {
                    let r = try await users.call(cluster, at: id, "GET", "/live", as: "u0")
                    let value = LiveFixture.object(r.body)["likes"]
                    seen[id] = r.status == 200 ? "\(value.map { "\($0)" } ?? "missing")" : "\(r.status) \(r.body)"
                }
                return ids.allSatisfy { seen[$0] == String(likes) }
            }) != nil
        #expect(
            agreed,
            "\(when): GET /live shows likes \(ids.map { "\($0): \(seen[$0] ?? "?")" }.joined(separator: ", ")); expected \(likes) at every node",
            sourceLocation: sourceLocation
        )
    }

    /// The `likes` of the last `stats` event in an SSE text, if any.
    static func lastStatsLikes(_ sse: String) -> Int? {
        let blocks = sse.components(separatedBy: "\n\n").filter { $0.contains("event: stats") }
        guard let block = blocks.last,
            let data = block.split(separator: "\n").first(where: { $0.hasPrefix("data: ") })
        else { return nil }
        let json = (try? JSONSerialization.jsonObject(with: Data(data.dropFirst(6).utf8))) as? [String: Any]
        return json?["likes"] as? Int
    }
}
