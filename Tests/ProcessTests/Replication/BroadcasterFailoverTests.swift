import Foundation
import Testing

extension ReplicationTests {
    @Test("kill -9 of the primary under a broadcaster: it reconnects to another node and replicas play again")
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
            // breaks.
            let (victim, victimCopy) = try #require(cluster.primary(of: started.id, among: ids))
            let endsBefore = first.earlyEnds.count
            let killAt = ContinuousClock.now
            try await cluster.kill(victim)
            let survivors = ids.filter { $0 != victim }
            try await waitUntil("the ingest through \(entry) to break", timeout: 10) {
                first.earlyEnds.count > endsBefore
            }
            first.stop()

            // The broadcaster reconnects at once through another surviving node (and again while
            // its ingest is refused).
            let reentry = try #require(survivors.first { $0 != entry })
            let second = Broadcaster(url: ingestURL(reentry))
            second.start()
            defer { second.stop() }
            let promoted = try await cluster.waitForPrimary(
                of: started.id,
                among: survivors,
                above: victimCopy.epoch,
                timeout: 10
            )

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
            #expect(second.isPushing, "the reconnected broadcaster is not pushing: \(second.earlyEnds)")
            print(
                "broadcasterFailover: played again \(playingAgain) after the kill of \(victim); new primary "
                    + "\(promoted.node) (epoch \(promoted.copy.epoch)); ingest through \(entry) ended early "
                    + "\(first.earlyEnds.count) times (\(endsBefore) before the kill), through \(reentry) "
                    + "\(second.earlyEnds.count) times; viewer \(viewed) decode errors after: \(after.errors)"
            )
        }
    }
}
