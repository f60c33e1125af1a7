import Foundation
import Testing

/// RTMP ingest with ffmpeg publishing FLV as OBS does (`-f flv rtmp://…/live/<key>`): the stream
/// key a host gets from `POST /live`, media out as TS, fMP4 and HLS, the recording, and the
/// refusals (wrong key, a second publisher, an ended session's key, garbage) with the node unharmed.
@Suite("RTMP ingest with ffmpeg", .serialized)
struct RTMPIngestTests {
    /// Long enough for every check made while it publishes, on a loaded machine too (a decode
    /// that runs past the end of the publish waits for media that never comes and fails).
    static let pushSeconds = 20.0

    /// The `ingest` object of a start answer.
    static func ingest(_ body: String) -> (url: String, key: String)? {
        guard let ingest = LiveFixture.object(body)["ingest"] as? [String: Any],
            let url = ingest["rtmpUrl"] as? String, let key = ingest["streamKey"] as? String
        else { return nil }
        return (url, key)
    }

    /// Publishes to `url` with ffmpeg for up to 20 s and returns its exit status and errors:
    /// for publishes that must be refused.
    static func refusedPublish(_ url: String) async throws -> ToolResult {
        try await Tools.run("ffmpeg", FFmpeg.pushArguments(to: url, seconds: 20), timeout: 40)
    }

    @Test(
        "OBS-style publish at one node: plays as stream.ts, stream.mp4 and HLS, records; bad keys, a second publisher and garbage are refused"
    )
    func publishOneNode() async throws {
        let rtmpPort = freePort()
        let f = try LiveFixture(extra: ["--rtmp-listen", "127.0.0.1:\(rtmpPort)"])
        defer { f.stop() }
        try await f.start()
        var r = try await f.call("POST", "/live", as: "ann", json: #"{"title":"obs","record":true}"#)
        #expect(r.status == 201)
        let sessionID = LiveFixture.object(r.body)["id"] as? String ?? ""
        let ingest = try #require(Self.ingest(r.body), "no ingest in \(r.body)")
        #expect(ingest.url == "rtmp://127.0.0.1:\(rtmpPort)/live")
        #expect(ingest.key.hasPrefix("g1.\(sessionID)."))
        // Only the host who started it is told the key.
        r = try await f.call("GET", "/live", as: "bob")
        #expect(!r.body.contains(ingest.key) && !r.body.contains("streamKey"))

        // Garbage at the RTMP port: the connection is closed, the node is unharmed.
        let garbage = try RawSocket(port: rtmpPort)
        _ = garbage.send([0x07] + [UInt8](repeating: 0x41, count: 4000))
        #expect(garbage.readUntilClosed(timeout: 5).closed)

        let publisher = try FFmpeg.startPush(to: "\(ingest.url)/\(ingest.key)", seconds: Self.pushSeconds)
        defer { publisher.stop() }
        try await waitUntil("the RTMP publish to produce a first HLS segment", timeout: 20) {
            try await f.call("GET", "/live/index.m3u8", as: "bob").status == 200
        }

        // While it publishes: a second publisher with the key, a wrong key, another app.
        let second = try await Self.refusedPublish("\(ingest.url)/\(ingest.key)")
        #expect(second.status != 0)
        #expect(second.stderr.contains("another publisher is live"), "second publisher: \(second.stderr)")
        var forged = ingest.key
        forged.removeLast()
        forged += ingest.key.hasSuffix("A") ? "B" : "A"
        let wrong = try await Self.refusedPublish("\(ingest.url)/\(forged)")
        #expect(wrong.status != 0 && wrong.stderr.contains("unknown stream key"), "wrong key: \(wrong.stderr)")

        let ts = try await FFmpeg.decode("\(f.base)/live/stream.ts?access_token=\(f.tokens["bob"]!)", seconds: 2)
        #expect(ts.frames >= 25 && ts.errors.isEmpty, "stream.ts: \(ts.frames) frames, \(ts.errors)")
        let mp4 = try await FFmpeg.decode("\(f.base)/live/stream.mp4?access_token=\(f.tokens["cat"]!)", seconds: 2)
        #expect(mp4.frames >= 25 && mp4.errors.isEmpty, "stream.mp4: \(mp4.frames) frames, \(mp4.errors)")

        #expect(try await publisher.waitExit(timeout: Self.pushSeconds + 30) == 0, "publisher: \(publisher.errors)")
        #expect(try await f.call("DELETE", "/live", as: "ann").status == 200)
        let playlistURL = "\(f.base)/replays/\(sessionID)/index.m3u8?access_token=\(f.tokens["cat"]!)"
        let (duration, errors) = try await FFmpeg.duration(of: playlistURL)
        #expect(abs(duration - Self.pushSeconds) <= Self.pushSeconds * 0.2, "replay lasts \(duration) s: \(errors)")

        // The ended session's key is refused; the node still serves.
        let ended = try await Self.refusedPublish("\(ingest.url)/\(ingest.key)")
        #expect(ended.status != 0 && ended.stderr.contains("not live"), "ended key: \(ended.stderr)")
        #expect(try await f.call("GET", "/replays", as: "bob").status == 200)
        let metrics = try await Curl.call("GET", "\(f.node.url)/metrics", token: nil)
        for result in ["accepted", "busy", "bad_key", "not_live", "protocol"] {
            #expect(
                metrics.body.contains(#"qunbo_rtmp_publishes_total{result="\#(result)"}"#),
                "no \(result) count in /metrics"
            )
        }
    }

    @Test(
        "a publish at a node that is not the primary is forwarded to it; every replica serves the media; the end cuts it"
    )
    func publishForwarded() async throws {
        try await LocalCluster.with(size: 3, nodeFlags: ["--replicas", "3"], rtmp: true) { cluster in
            try await Self.forwarded(cluster)
        }
    }

    static func forwarded(_ cluster: LocalCluster) async throws {
        let users = try await GroupUsers.mint(for: cluster, group: "rtmpg", memberCount: 1)
        let answer = try await users.call(cluster, at: "n1", "POST", "/live", as: "host", json: #"{"title":"fwd"}"#)
        try #require(answer.status == 201, "\(answer.status) \(answer.body)")
        let primary = try #require(LiveFixture.object(answer.body)["primary"] as? String)
        let key = try #require(Self.ingest(answer.body)?.key)
        let entry = try #require(cluster.ids().first { $0 != primary })
        let publisher = try FFmpeg.startPush(to: "\(cluster.rtmpURL(of: entry))/\(key)", seconds: 60)
        defer { publisher.stop() }
        for id in cluster.ids() {
            try await waitUntil("\(id) to serve the RTMP publish's HLS", timeout: 20) {
                try await users.call(cluster, at: id, "GET", "/live/index.m3u8", as: "u0").status == 200
            }
        }
        for id in cluster.ids() {
            let url = users.url(cluster, id, "/live/stream.ts") + "?access_token=\(users.token("u0"))"
            let ts = try await FFmpeg.decode(url, seconds: 1.5)
            #expect(
                ts.frames >= 20,
                "stream.ts at \(id) (entry \(entry), primary \(primary)): \(ts.frames) frames, \(ts.errors)"
            )
        }
        // A second publisher at the primary itself is refused while the forwarded one is live.
        let second = try await Self.refusedPublish("\(cluster.rtmpURL(of: primary))/\(key)")
        #expect(second.status != 0 && second.stderr.contains("another publisher is live"), "\(second.stderr)")
        #expect(publisher.isRunning, "the forwarded publisher stopped: \(publisher.errors)")
        // Ending the live ends the forwarded publish too: the publisher is cut, and stays out.
        let ended = try await users.call(cluster, at: entry, "DELETE", "/live", as: "host")
        #expect(ended.status == 200, "end: \(ended.status) \(ended.body)")
        try await waitUntil("the publisher to be cut by the end of the live", timeout: 15) { !publisher.isRunning }
    }

    @Test("kill -9 of the primary while publishing at another node: the publish rides through to the new primary")
    func primaryKilled() async throws {
        try await LocalCluster.with(size: 3, nodeFlags: ["--replicas", "3"], rtmp: true) { cluster in
            let users = try await GroupUsers.mint(for: cluster, group: "rtmpk", memberCount: 1)
            let answer = try await users.call(cluster, at: "n1", "POST", "/live", as: "host", json: #"{"title":"k"}"#)
            try #require(answer.status == 201, "\(answer.status) \(answer.body)")
            let primary = try #require(LiveFixture.object(answer.body)["primary"] as? String)
            let key = try #require(Self.ingest(answer.body)?.key)
            let survivors = cluster.ids().filter { $0 != primary }
            let publisher = try FFmpeg.startPush(to: "\(cluster.rtmpURL(of: survivors[0]))/\(key)", seconds: 60)
            defer { publisher.stop() }
            try await waitUntil("\(survivors[1]) to serve the publish's HLS", timeout: 20) {
                try await users.call(cluster, at: survivors[1], "GET", "/live/index.m3u8", as: "u0").status == 200
            }
            try await cluster.kill(primary)
            // The entry node loses the primary under the publish and goes on at the new one (or
            // runs the rest itself if it won the election): the publisher is never cut, and
            // fresh media plays at both survivors.
            for id in survivors {
                let url = users.url(cluster, id, "/live/stream.ts") + "?access_token=\(users.token("u0"))"
                var decoded = 0
                try await waitUntil("\(id) to serve the publish after the failover", timeout: 30) {
                    decoded = try await FFmpeg.decode(url, seconds: 1.5).frames
                    return decoded >= 20
                }
            }
            #expect(publisher.isRunning, "the publisher was cut: \(publisher.errors)")
        }
    }
}
