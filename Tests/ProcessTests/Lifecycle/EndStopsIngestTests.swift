import Foundation
import Testing

extension SessionLifecycleTests {
    /// How soon after the host's `DELETE …/live` is answered the broadcaster's ingest must end.
    static let ingestEndLimit = 2.0
    /// How much longer than the live (endedAt − startedAt) its replay may be: about one segment
    /// (segments are cut at the first keyframe after `--hls-target-duration`, 2 s).
    static let replaySlack = 2.5

    @Test("ending a live ends the ffmpeg ingest at the primary within 2 s, and the replay is as long as the live")
    func endStopsIngestAtPrimary() async throws {
        try await endStopsIngest(entryIsPrimary: true)
    }

    @Test(
        "ending a live ends the ffmpeg ingest forwarded by a non-primary node within 2 s, and the replay is as long as the live"
    )
    func endStopsForwardedIngest() async throws {
        try await endStopsIngest(entryIsPrimary: false)
    }

    /// ffmpeg pushes a real-time test pattern to the ingest at the primary (or at a replica, which
    /// forwards it); the host ends the live; the push must end within `ingestEndLimit` and every
    /// node's recording must stop at the end.
    func endStopsIngest(entryIsPrimary: Bool) async throws {
        let name = entryIsPrimary ? "endStopsIngestAtPrimary" : "endStopsForwardedIngest"
        try await LocalCluster.with(size: 3, nodeFlags: Self.nodeFlags) { cluster in
            let ids = cluster.ids()
            let users = try await GroupUsers.mint(
                for: cluster,
                group: entryIsPrimary ? "ingest-primary" : "ingest-forwarded",
                memberCount: 1
            )
            let live = try await Self.startLive(cluster, users, at: "n1", title: name, record: true)
            let entry = entryIsPrimary ? live.primary : try #require(live.replicas.first(where: { $0 != live.primary }))

            // The broadcaster: ffmpeg -re, 60 s of media, far longer than this test lets it run.
            let push = try FFmpeg.startPush(
                to: users.url(cluster, entry, "/live/ingest?access_token=\(users.token("host"))"),
                seconds: 60
            )
            defer { push.stop() }

            // The media flows: the primary's live playlist lists at least 4 s of segments.
            var listed = 0.0
            do {
                try await waitUntil("the primary \(live.primary) to list 4 s of live segments", timeout: 25) {
                    let r = try await users.call(cluster, at: live.primary, "GET", "/live/index.m3u8", as: "u0")
                    guard r.status == 200 else { return false }
                    listed = Self.playlistSeconds(r.body).seconds
                    return listed >= 4
                }
            } catch {
                Issue.record(
                    "\(error): ffmpeg through \(entry) running \(push.isRunning), errors: \(push.errors)\n\(cluster.logs())"
                )
                throw error
            }
            try #require(push.isRunning, "ffmpeg stopped before the end: \(push.errors)")

            // The host ends the live through the node ffmpeg pushes to.
            let ended = try await users.call(cluster, at: entry, "DELETE", "/live", as: "host")
            let endAnswered = ContinuousClock.now
            try #require(ended.status == 200, "DELETE /live at \(entry): \(ended.status) \(ended.body)")
            let session = LiveFixture.object(ended.body)
            try #require(session["state"] as? String == "ended", "DELETE answered \(ended.body)")
            let startedAt = try #require(Self.millis(session["startedAt"] as? String), "\(ended.body)")
            let endedAt = try #require(Self.millis(session["endedAt"] as? String), "\(ended.body)")
            let liveSeconds = Double(endedAt - startedAt) / 1000

            // The ingest ends: ffmpeg's request is answered and closed, so ffmpeg exits.
            var exitedAfter: Double?
            if (try? await waitUntil("ffmpeg to exit", timeout: Self.ingestEndLimit) { !push.isRunning }) != nil {
                exitedAfter = Self.seconds(ContinuousClock.now - endAnswered)
            }
            if exitedAfter == nil {
                // How long it goes on (for the record), then the broadcaster gives up.
                let stillPushing = (try? await waitUntil("ffmpeg to exit", timeout: 8) { !push.isRunning }) == nil
                let after = Self.seconds(ContinuousClock.now - endAnswered)
                let how: String =
                    stillPushing
                    ? "still pushing \(Self.format(after)) s after" : "exited \(Self.format(after)) s after"
                let message: String =
                    "the ingest through \(entry) did not end within \(Self.ingestEndLimit) s of the end: ffmpeg \(how) DELETE was answered"
                Issue.record(Comment(rawValue: message))
                push.stop()
            }
            let pushStatus = try await push.waitExit(timeout: 5)

            // Every node's replay lasts as long as the live: at least the media listed before the
            // end, at most endedAt − startedAt plus about one segment.
            var report: [String] = []
            for id in ids {
                let list = try await users.call(cluster, at: id, "GET", "/replays", as: "u0")
                #expect(
                    list.status == 200 && list.body.contains(live.id),
                    "GET /replays at \(id): \(list.status) \(list.body)"
                )
                var replay = (seconds: 0.0, segments: 0)
                var body = ""
                do {
                    try await waitUntil(
                        "\(id)'s replay to list the \(Self.format(listed)) s recorded before the end",
                        timeout: 15
                    ) {
                        let r = try await users.call(
                            cluster,
                            at: id,
                            "GET",
                            "/replays/\(live.id)/index.m3u8",
                            as: "u0"
                        )
                        body = r.body
                        replay = Self.playlistSeconds(r.body)
                        return r.status == 200 && r.body.contains("#EXT-X-ENDLIST") && replay.seconds >= listed - 0.05
                    }
                } catch {
                    let health =
                        (try? httpGet(port: cluster.port(of: id), path: "/healthz").status).map(String.init)
                        ?? "no answer"
                    Issue.record(
                        "\(error): last playlist at \(id):\n\(body)\n/healthz at \(id): \(health)\n\(cluster.crashes())\n\(cluster.logs())"
                    )
                    continue
                }
                #expect(
                    replay.seconds <= liveSeconds + Self.replaySlack,
                    "\(id)'s replay lists \(Self.format(replay.seconds)) s in \(replay.segments) segments, but the live lasted \(Self.format(liveSeconds)) s (endedAt − startedAt): media recorded after the end"
                )
                report.append("\(id) \(Self.format(replay.seconds)) s/\(replay.segments) segments")
            }
            // ffmpeg's last error line, without the token in the URL it names.
            let lastError = push.errors.split(separator: "\n").last.map {
                $0.replacingOccurrences(
                    of: #"access_token=[^: ]*"#,
                    with: "access_token=…",
                    options: .regularExpression
                )
            }
            print(
                "\(name): ffmpeg through \(entry) (primary \(live.primary)) "
                    + (exitedAfter.map { "exited \(Self.format($0)) s after the end" } ?? "did not exit in time")
                    + " with status \(pushStatus) (\(lastError ?? "no error")); live "
                    + "\(Self.format(liveSeconds)) s, \(Self.format(listed)) s listed before the end; replays: "
                    + report.joined(separator: ", ")
            )
        }
    }
}
