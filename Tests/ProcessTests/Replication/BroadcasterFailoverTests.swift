import Foundation
import Testing

extension ReplicationTests {
    @Test(
        "kill -9 of the primary under a broadcaster: its ingest rides through to the new primary and replicas play again"
    )
    func broadcasterFailover() async throws {
        try await LocalCluster.with(size: 5, nodeFlags: Self.nodeFlags) { cluster in
            let ids = cluster.ids()
            let users = try await GroupUsers.mint(for: cluster, group: "broadcast", memberCount: 2)
            let started = try await Self.startSession(cluster, users, at: "n1", title: "broadcast")
            let watched = try #require(started.replicas.first { $0 != started.primary })
            let ingestURL = { (node: String) in
                users.url(cluster, node, "/live/ingest?access_token=\(users.token("host"))")
            }
            let streamURL = { (node: String) in
                users.url(cluster, node, "/live/stream.ts?access_token=\(users.token("u0"))")
            }

            // The broadcaster (an encoder that reconnects when its ingest breaks) pushes through a
            // node holding no replica: forwarded to the primary, which relays the media to the
            // replicas; a replica's viewer plays two GOPs.
            let entry = try #require(ids.first { !started.replicas.contains($0) })
            let first = Broadcaster(url: ingestURL(entry))
            first.start()
            defer { first.stop() }
            do {
                try await waitUntil("\(watched) to cut a first HLS segment", timeout: 15) {
                    try await users.call(cluster, at: watched, "GET", "/live/index.m3u8", as: "u0").status == 200
                }
            } catch {
                let atPrimary = try await users.call(cluster, at: started.primary, "GET", "/live/index.m3u8", as: "u0")
                let state =
                    "\(error); broadcaster through \(entry) pushing: \(first.isPushing), ended early: "
                    + "\(first.earlyEnds); index.m3u8 at \(started.primary): \(atPrimary.status) \(atPrimary.body)\n"
                    + cluster.logs()
                Issue.record(Comment(rawValue: state))
                throw error
            }
            let before = try await FFmpeg.decode(streamURL(watched), seconds: 8, frames: 50)
            #expect(before.frames >= 50, "\(watched) decoded \(before.frames) frames: \(before.errors)")
            #expect(before.errors.isEmpty, "\(watched) before the kill: \(before.errors)")

            // The primary (whichever node is primary now) dies; the ingest through the entry node
            // rides through: the entry node goes on at the new primary, the encoder never sees
            // its push end.
            let (victim, victimCopy) = try #require(cluster.primary(of: started.id, among: ids))
            let endsBefore = first.earlyEnds.count
            let killAt = ContinuousClock.now
            try await cluster.kill(victim)
            let survivors = ids.filter { $0 != victim }
            let second = first
            let reentry = entry
            let promoted = try await cluster.waitForPrimary(
                of: started.id,
                among: survivors,
                above: victimCopy.epoch,
                timeout: 10
            )
            try await waitUntil("\(entry) to send the ingest on to the new primary", timeout: 20) {
                Self.metric(cluster, entry, "qunbo_route_ingests_rerouted_total") ?? 0 >= 1
            }

            // A viewer of a surviving replica plays the new media: more frames than the one GOP a
            // replica keeps from before the kill.
            let copy = try #require(try cluster.held(started.id, on: promoted.node))
            let viewed = copy.members.first { $0 != promoted.node && survivors.contains($0) } ?? promoted.node
            var after = (frames: 0, errors: "")
            do {
                try await waitUntil("\(viewed) to play 75 frames after the failover", timeout: 20) {
                    after = try await FFmpeg.decode(streamURL(viewed), seconds: 10, frames: 75)
                    return after.frames >= 75
                }
            } catch {
                let state =
                    "\(error): last decode \(after.frames) frames, \(after.errors); broadcaster pushing: "
                    + "\(second.isPushing), ended early: \(second.earlyEnds)\n\(cluster.logs())"
                Issue.record(Comment(rawValue: state))
                throw error
            }
            let playingAgain = ContinuousClock.now - killAt
            #expect(second.isPushing, "the broadcaster is not pushing: \(second.earlyEnds)")
            #expect(
                first.earlyEnds.count == endsBefore,
                "the ingest through \(entry) broke at the kill: \(first.earlyEnds)"
            )
            print(
                "broadcasterFailover: played again \(playingAgain) after the kill of \(victim); new primary "
                    + "\(promoted.node) (epoch \(promoted.copy.epoch)); ingest through \(entry) ended early "
                    + "\(first.earlyEnds.count) times (\(endsBefore) before the kill), through \(reentry) "
                    + "\(second.earlyEnds.count) times; viewer \(viewed) decode errors after: \(after.errors)"
            )
        }
    }

    @Test(
        "a broadcaster pushing straight to the primary: the primary drained, the rest of its body goes to the new one"
    )
    func ingestRidesThroughAHandOver() async throws {
        try await LocalCluster.with(size: 3, nodeFlags: Self.nodeFlags) { cluster in
            let ids = cluster.ids()
            let users = try await GroupUsers.mint(for: cluster, group: "handover", memberCount: 1)
            let started = try await Self.startSession(cluster, users, at: "n1", title: "handover")
            let broadcaster = Broadcaster(
                url: users.url(cluster, started.primary, "/live/ingest?access_token=\(users.token("host"))")
            )
            broadcaster.start()
            defer { broadcaster.stop() }
            let streamURL = { (node: String) in
                users.url(cluster, node, "/live/stream.ts?access_token=\(users.token("u0"))")
            }
            var before = (frames: 0, errors: "")
            try await waitUntil("the primary to play its own ingest", timeout: 20) {
                before = try await FFmpeg.decode(streamURL(started.primary), seconds: 4, frames: 25)
                return before.frames >= 25
            }
            let drain = try await Curl.call(
                "POST",
                "\(cluster.url(of: started.primary))/admin/v1/drain",
                token: cluster.adminToken
            )
            #expect(drain.status == 202, "drain: \(drain.status) \(drain.body)")
            let others = ids.filter { $0 != started.primary }
            let promoted = try await cluster.waitForPrimary(
                of: started.id,
                among: others,
                above: started.epoch,
                timeout: 20
            )
            var after = (frames: 0, errors: "")
            try await waitUntil("\(promoted.node) to play the ingest after the hand-over", timeout: 30) {
                after = try await FFmpeg.decode(streamURL(promoted.node), seconds: 4, frames: 50)
                return after.frames >= 50
            }
            #expect(broadcaster.isPushing && broadcaster.earlyEnds.isEmpty, "the push broke: \(broadcaster.earlyEnds)")
            #expect(Self.metric(cluster, started.primary, "qunbo_route_ingests_rerouted_total") ?? 0 >= 1)
        }
    }
}
