import Foundation
import Testing

extension SessionLifecycleTests {
    /// How long each node is frozen (SIGSTOP, then SIGCONT): long enough for gossip to suspect it.
    static let freeze = Duration.seconds(4)
    /// How long the ended session's copies must stay unchanged before the freezes (it has
    /// settled: the primary's linger after the last commit has passed).
    static let settledFor = Duration.seconds(2)
    /// How long the ended session's copies are watched once the cluster is whole again.
    static let watchSeconds = 5.0

    @Test(
        "an ended session settles: after SIGSTOP/SIGCONT of each node in turn it holds no election, its epoch stays put and every copy is fully committed"
    )
    func endedSessionSettlesAfterFreezes() async throws {
        try await LocalCluster.with(size: 3, nodeFlags: Self.nodeFlags) { cluster in
            let ids = cluster.ids()
            let users = try await GroupUsers.mint(for: cluster, group: "settle", memberCount: 3)
            let live = try await Self.startLive(cluster, users, at: "n1", title: "settle", record: true)

            // A few comments, each acknowledged (durable on a majority), then the host ends it.
            for (i, id) in ids.enumerated() {
                let r = try await users.call(
                    cluster,
                    at: id,
                    "POST",
                    "/live/comments",
                    as: "u\(i)",
                    json: #"{"text":"comment \#(i)","id":"c\#(i)"}"#
                )
                try #require(r.status == 201, "POST /live/comments at \(id): \(r.status) \(r.body)")
            }
            let ended = try await users.call(cluster, at: "n1", "DELETE", "/live", as: "host")
            try #require(ended.status == 200, "DELETE /live: \(ended.status) \(ended.body)")
            try #require(LiveFixture.object(ended.body)["state"] as? String == "ended", "\(ended.body)")

            // Before any fault the session settles: every node holds it ended and fully committed,
            // in one epoch, and no copy changes for `settledFor`.
            var before: [String: HeldSession] = [:]
            var unchangedSince = ContinuousClock.now
            do {
                try await waitUntil("every copy of the ended session to stay fully committed, unchanged", timeout: 20) {
                    var copies: [String: HeldSession] = [:]
                    for id in ids { copies[id] = try cluster.copy(of: live.id, on: id) }
                    guard copies.count == ids.count, copies.values.allSatisfy({ $0.ended && $0.isFullyCommitted }),
                        Set(copies.values.map(\.epoch)).count == 1
                    else {
                        before = [:]
                        return false
                    }
                    if copies != before {
                        before = copies
                        unchangedSince = ContinuousClock.now
                        return false
                    }
                    return ContinuousClock.now - unchangedSince >= Self.settledFor
                }
            } catch {
                throw ClusterStateError(what: "\(error)", cluster: cluster, ids: ids, session: live.id)
            }
            let settledState = ids.map {
                "\($0): \(before[$0].map { "epoch \($0.epoch) log \($0.logCommitSeq)/\($0.logLastSeq)" } ?? "-")"
            }

            // Freeze each node in turn; between freezes, wait until every node sees every node alive.
            var flaps: [String] = []
            for id in ids {
                let others = ids.filter { $0 != id }
                try await cluster.kill(id, signal: "STOP")
                let frozenAt = ContinuousClock.now
                var suspected = false
                do {
                    // Gossip notices (suspect or dead at another node) while it is frozen.
                    _ = try? await waitUntil("another node to suspect the frozen \(id)", timeout: 4) {
                        others.contains { (try? cluster.memberStates(seenBy: $0)[id]) != "alive" }
                    }
                    suspected = others.contains { (try? cluster.memberStates(seenBy: $0)[id]) != "alive" }
                    let left = Self.freeze - (ContinuousClock.now - frozenAt)
                    if left > .zero { try await Task.sleep(for: left) }
                } catch {
                    try? await cluster.kill(id, signal: "CONT")
                    throw error
                }
                try await cluster.kill(id, signal: "CONT")
                do {
                    try await waitUntil("every node to see every node alive after \(id) resumed", timeout: 20) {
                        cluster.allAlive(ids)
                    }
                } catch {
                    throw ClusterStateError(what: "\(error)", cluster: cluster, ids: ids, session: live.id)
                }
                flaps.append("\(id) (suspected: \(suspected))")
            }

            // Every copy is fully committed, all in one epoch ...
            var settled = true
            do {
                try await waitUntil("every copy of the ended session to be fully committed in one epoch", timeout: 20) {
                    let copies = try ids.map { try cluster.copy(of: live.id, on: $0) }
                    guard copies.allSatisfy({ $0?.ended == true && $0?.isFullyCommitted == true }) else { return false }
                    return Set(copies.map { $0?.epoch }).count == 1
                }
            } catch {
                settled = false
                Issue.record("\(error):\n\(cluster.describeCopies(of: live.id, on: ids))")
            }

            // ... and stays so: no election, no new entry, at any node, for `watchSeconds`.
            var history: [String: [String]] = Dictionary(uniqueKeysWithValues: ids.map { ($0, []) })
            var first: [String: HeldSession] = [:]
            var last: [String: HeldSession] = [:]
            var changed: Set<String> = []
            let watchEnd = ContinuousClock.now + .milliseconds(Int64(Self.watchSeconds * 1000))
            while ContinuousClock.now < watchEnd {
                for id in ids {
                    guard let copy = try? cluster.copy(of: live.id, on: id) else {
                        history[id, default: []].append("no copy or no answer")
                        changed.insert(id)
                        continue
                    }
                    last[id] = copy
                    let entry = "epoch \(copy.epoch) log \(copy.logCommitSeq)/\(copy.logLastSeq)"
                    if history[id]?.last != entry { history[id, default: []].append(entry) }
                    if let was = first[id] {
                        if was.epoch != copy.epoch || !copy.isFullyCommitted || was.logLastSeq != copy.logLastSeq {
                            changed.insert(id)
                        }
                    } else {
                        first[id] = copy
                        if !copy.isFullyCommitted { changed.insert(id) }
                    }
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            let watched = ids.map { "\($0): \(history[$0]?.joined(separator: " -> ") ?? "")" }.joined(separator: "\n  ")
            #expect(
                changed.isEmpty,
                "the ended session's copies changed while watched for \(Self.watchSeconds) s at \(changed.sorted()):\n  \(watched)"
            )

            // A settled ended session takes no more writes: a gossip flap is no reason for it to
            // campaign, so no copy's epoch or log moved from where it settled.
            let moved = ids.compactMap { id -> String? in
                guard let was = before[id], let now = last[id] else { return nil }
                guard was.epoch != now.epoch || was.logLastSeq != now.logLastSeq else { return nil }
                return "\(id): epoch \(was.epoch) -> \(now.epoch), log \(was.logLastSeq) -> \(now.logLastSeq) entries"
            }
            #expect(
                moved.isEmpty,
                "the settled ended session held elections through the freezes: \(moved.joined(separator: "; "))"
            )
            print(
                "endedSessionSettlesAfterFreezes: settled before the freezes at \(settledState.joined(separator: ", ")); "
                    + "froze \(flaps.joined(separator: ", ")); one epoch after: \(settled); watched:\n  \(watched)"
            )
        }
    }
}
