import Foundation
import Testing

/// ffmpeg as the broadcaster and as the player: MPEG-TS ingest, HTTP-TS and HLS playback,
/// recording and replay.
@Suite("Live media with ffmpeg", .serialized)
struct LiveMediaTests {
    static let pushSeconds = 12.0

    @Test(
        "push 12 s with ffmpeg; stream.ts, stream.mp4 and index.m3u8 decode live; the recording replays at the right length"
    )
    func pushWatchReplay() async throws {
        let f = try LiveFixture()
        defer { f.stop() }
        try await f.start()
        var r = try await f.call("POST", "/live", as: "ann", json: #"{"title":"ffmpeg","record":true}"#)
        #expect(r.status == 201)
        let sessionID = LiveFixture.object(r.body)["id"] as? String ?? ""
        let ingest = "\(f.base)/live/ingest?access_token=\(f.tokens["ann"]!)"
        async let pushed = FFmpeg.push(to: ingest, seconds: Self.pushSeconds)

        // While it runs: a second ingest is refused, a non-host ingest is refused.
        try await waitUntil("the ingest to produce a first HLS segment", timeout: 15) {
            try await f.call("GET", "/live/index.m3u8", as: "bob").status == 200
        }
        #expect(try await f.call("POST", "/live/ingest", as: "ann", json: "x").status == 409)
        #expect(try await f.call("POST", "/live/ingest", as: "bob", json: "x").status == 403)

        let ts = try await FFmpeg.decode("\(f.base)/live/stream.ts?access_token=\(f.tokens["bob"]!)", seconds: 2)
        #expect(ts.frames >= 25, "stream.ts decoded \(ts.frames) frames; errors: \(ts.errors)")
        #expect(ts.errors.isEmpty, "stream.ts: \(ts.errors)")
        // The same live as fragmented MP4: starts with an init segment and a keyframe, H.264 + AAC.
        let mp4URL = "\(f.base)/live/stream.mp4?access_token=\(f.tokens["bob"]!)"
        let mp4 = try await FFmpeg.decode(mp4URL, seconds: 2)
        #expect(mp4.frames >= 25, "stream.mp4 decoded \(mp4.frames) frames; errors: \(mp4.errors)")
        #expect(mp4.errors.isEmpty, "stream.mp4: \(mp4.errors)")
        let streams = try await Tools.run(
            "ffprobe",
            ["-v", "error", "-rw_timeout", "5000000", "-show_entries", "stream=codec_name", "-of", "csv=p=0", mp4URL],
            timeout: 30
        )
        #expect(
            streams.stdout.split(separator: "\n").sorted() == ["aac", "h264"],
            "stream.mp4 streams: \(streams.stdout) \(streams.stderr)"
        )
        let hls = try await FFmpeg.decode("\(f.base)/live/index.m3u8?access_token=\(f.tokens["cat"]!)", seconds: 1.5)
        #expect(hls.frames >= 20, "index.m3u8 decoded \(hls.frames) frames; errors: \(hls.errors)")

        let push = try await pushed
        #expect(push.status == 0, "ffmpeg push: \(push.stderr)")

        // The session stays live after the body ends (ingest grace) until the host ends it.
        r = try await f.call("GET", "/live", as: "bob")
        #expect(LiveFixture.object(r.body)["state"] as? String == "live")
        #expect(try await f.call("DELETE", "/live", as: "ann").status == 200)

        r = try await f.call("GET", "/replays", as: "cat")
        #expect(r.status == 200 && r.body.contains(sessionID))
        let playlistURL = "\(f.base)/replays/\(sessionID)/index.m3u8?access_token=\(f.tokens["cat"]!)"
        r = try await f.call("GET", playlistURL, as: nil)
        #expect(r.body.contains("#EXT-X-PLAYLIST-TYPE:VOD") && r.body.contains("#EXT-X-ENDLIST"))
        let (duration, errors) = try await FFmpeg.duration(of: playlistURL)
        #expect(abs(duration - Self.pushSeconds) <= Self.pushSeconds * 0.15, "replay lasts \(duration) s: \(errors)")
        let replay = try await FFmpeg.decode(playlistURL, seconds: 20)
        #expect(
            replay.frames >= Int(Self.pushSeconds * 25 * 0.85),
            "replay decoded \(replay.frames) frames: \(replay.errors)"
        )
        r = try await f.call("GET", "/replays/\(sessionID)/events", as: "bob")
        #expect(r.body.hasPrefix("[") && r.body.contains(#""type":"started""#) && r.body.contains(#""type":"ended""#))
    }

    @Test("--ingest-grace: the session ends by itself once its ingest has been away that long")
    func ingestGrace() async throws {
        let f = try LiveFixture(extra: ["--ingest-grace", "1s"])
        defer { f.stop() }
        try await f.start()
        #expect(try await f.call("POST", "/live", as: "ann", json: #"{"record":true}"#).status == 201)
        // Without any ingest yet, the grace period does not run.
        try await Task.sleep(for: .milliseconds(2500))
        #expect(try await f.call("GET", "/live", as: "bob").status == 200)
        let push = try await FFmpeg.push(to: "\(f.base)/live/ingest?access_token=\(f.tokens["ann"]!)", seconds: 1)
        #expect(push.status == 0, "\(push.stderr)")
        try await waitUntil("the session to end after the grace period", timeout: 10) {
            try await f.call("GET", "/live", as: "bob").status == 404
        }
        let replays = try await f.call("GET", "/replays", as: "bob")
        #expect(replays.body.contains(#""state":"ended""#))
    }

    @Test("random bytes and truncated packets as ingest: answered, nothing crashes, the session goes on")
    func garbageIngest() async throws {
        let f = try LiveFixture()
        defer { f.stop() }
        try await f.start()
        #expect(try await f.call("POST", "/live", as: "ann", json: "{}").status == 201)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("garbage-\(UUID()).ts")
        var rng = SystemRandomNumberGenerator()
        var bytes = (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        // Sprinkle sync bytes so the demuxer keeps trying to lock on.
        for i in stride(from: 0, to: bytes.count, by: 188) { bytes[i] = 0x47 }
        bytes += [0x47, 0x40, 0x00]  // a truncated packet at the end
        try Data(bytes).write(to: file)
        let r = try await f.call("POST", "/live/ingest", as: "ann", bodyFile: file.path)
        #expect(r.status == 200, "\(r.body)")
        #expect(try httpGet(port: f.node.port, path: "/healthz").status == 200)
        #expect(
            try await f.call("POST", "/live/comments", as: "bob", json: #"{"text":"still here","id":"x"}"#).status
                == 201
        )
    }
}
