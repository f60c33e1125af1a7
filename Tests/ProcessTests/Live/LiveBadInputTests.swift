import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Bad tokens and bodies: each answered with the API's error, nothing changes, the node stays
/// healthy.
@Suite("Live bad input", .serialized)
struct LiveBadInputTests {
    static func b64url(_ s: String) -> String {
        Data(s.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    @Test("tampered, overlong and alg:none tokens are 401")
    func badTokens() async throws {
        let f = try LiveFixture()
        defer { f.stop() }
        try await f.start()
        let good = f.tokens["ann"]!
        var tampered = Array(good)
        tampered[tampered.count - 3] = tampered[tampered.count - 3] == "A" ? "B" : "A"
        // Expiry is checked with 30 s of clock leeway (a token expired longer ago than that is
        // refused: NodeTests' TokenLifetimeTests); here a token claiming more than the node's
        // --max-token-ttl (24 h) is refused however it was signed.
        let overlong = try await Tools.run(
            NodeProcess.binary,
            ["token", "--secret", LiveFixture.secret, "--user", "ann", "--group", "g1:owner", "--ttl", "48h"]
        ).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let future = Int(Date().timeIntervalSince1970) + 3600
        let none =
            Self.b64url(#"{"alg":"none","typ":"JWT"}"#) + "."
            + Self.b64url(#"{"sub":"ann","groups":{"g1":"owner"},"exp":\#(future)}"#) + "."
        let wrongSecret = try await Tools.run(
            NodeProcess.binary,
            ["token", "--secret", String(repeating: "z", count: 40), "--user", "ann", "--group", "g1:owner"]
        ).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        for (name, token) in [
            ("tampered", String(tampered)), ("over the maximum lifetime", overlong), ("alg none", none),
            ("other secret", wrongSecret),
            ("garbage", "x.y.z"),
        ] {
            let r = try await f.call("POST", "/live", as: token, json: "{}")
            #expect(r.status == 401, "\(name) token got \(r.status)")
            #expect(r.body.contains("\"code\":\"unauthorized\""))
        }
        #expect(try await f.call("GET", "/live", as: "ann").status == 404, "no session may have been created")
    }

    @Test("malformed, oversized, invalid UTF-8 and wrongly typed bodies are 400/413 and change nothing")
    func badBodies() async throws {
        let f = try LiveFixture()
        defer { f.stop() }
        try await f.start()
        #expect(try await f.call("POST", "/live", as: "ann", json: "{}").status == 201)
        let before = LiveFixture.object(try await f.call("GET", "/live", as: "ann").body)["lastSeq"] as? Int

        let cases: [(String, String, Int)] = [
            ("malformed JSON", #"{"text": "hi", "id": "#, 400),
            ("not an object", "[1,2,3]", 400),
            ("text of wrong type", #"{"text": 5, "id": "a"}"#, 400),
            ("id of wrong type", #"{"text": "hi", "id": ["a"]}"#, 400),
            ("missing id", #"{"text": "hi"}"#, 400),
            ("empty text", #"{"text": "   ", "id": "b"}"#, 400),
            ("501 characters", #"{"text": "\#(String(repeating: "x", count: 501))", "id": "c"}"#, 400),
            ("bad id", #"{"text": "hi", "id": "has space"}"#, 400),
        ]
        for (name, body, status) in cases {
            let r = try await f.call("POST", "/live/comments", as: "bob", json: body)
            #expect(r.status == status, "\(name): \(r.status) \(r.body)")
            #expect(r.body.contains("\"error\""), "\(name): \(r.body)")
        }
        // A 1 MB comment: 413 before it is read whole.
        let big = FileManager.default.temporaryDirectory.appendingPathComponent("big-\(UUID()).json")
        try Data((#"{"text":""# + String(repeating: "a", count: 1 << 20) + #"","id":"big"}"#).utf8).write(to: big)
        #expect(try await f.call("POST", "/live/comments", as: "bob", bodyFile: big.path).status == 413)
        // Invalid UTF-8.
        let utf = FileManager.default.temporaryDirectory.appendingPathComponent("utf-\(UUID()).json")
        try Data(Array(#"{"text":""#.utf8) + [0xC3, 0x28, 0xFF] + Array(#"","id":"u"}"#.utf8)).write(to: utf)
        #expect(try await f.call("POST", "/live/comments", as: "bob", bodyFile: utf.path).status == 400)
        // Tips and likes out of range, unknown moderation action.
        #expect(
            try await f.call("POST", "/live/tips", as: "bob", json: #"{"amount":0,"currency":"CNY","id":"t"}"#).status
                == 400
        )
        #expect(
            try await f.call("POST", "/live/tips", as: "bob", json: #"{"amount":100,"currency":"yuan","id":"t"}"#)
                .status == 400
        )
        #expect(try await f.call("POST", "/live/likes", as: "bob", json: #"{"count":1000}"#).status == 400)
        #expect(
            try await f.call("POST", "/live/moderation", as: "ann", json: #"{"action":"ban","user":"bob"}"#).status
                == 400
        )
        #expect(try await f.call("POST", "/live/questions/abc/highlight", as: "ann").status == 400)
        #expect(try await f.call("GET", "/live/comments?after=-1", as: "ann").status == 400)
        #expect(try await f.call("GET", "/live", as: "ann", headers: []).status == 200)
        #expect(
            try await f.call(
                "POST",
                "/v1/groups/bad%20group/live".replacingOccurrences(of: "/v1/groups/", with: "\(f.node.url)/v1/groups/"),
                as: "ann",
                json: "{}"
            ).status == 400
        )

        let after = LiveFixture.object(try await f.call("GET", "/live", as: "ann").body)["lastSeq"] as? Int
        #expect(before == after, "a refused write changed the log")
        #expect(try httpGet(port: f.node.port, path: "/healthz").status == 200)
    }

    @Test("acknowledged events and recorded replays survive kill -9 and restart")
    func restartKeepsAcknowledgedWrites() async throws {
        let dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("restart-\(UUID())").path
        let port = freePort()
        var f = try LiveFixture(port: port, dataDir: dataDir)
        try await f.start()
        // A recorded session with media, ended.
        var r = try await f.call("POST", "/live", as: "ann", json: #"{"title":"rec","record":true}"#)
        let recorded = LiveFixture.object(r.body)["id"] as? String ?? ""
        let push = try await FFmpeg.push(
            to: "\(f.base)/live/ingest?access_token=\(f.tokens["ann"]!)",
            seconds: 3
        )
        #expect(push.status == 0, "\(push.stderr)")
        #expect(try await f.call("DELETE", "/live", as: "ann").status == 200)
        // A live session with acknowledged comments, then kill -9 right after the last ack.
        r = try await f.call("POST", "/live", as: "bob", json: #"{"title":"live"}"#)
        let liveID = LiveFixture.object(r.body)["id"] as? String
        var acked: [Int] = []
        for i in 0..<5 {
            r = try await f.call(
                "POST",
                "/live/comments",
                as: ["cat", "dan"][i % 2],
                json: #"{"text":"c\#(i)","id":"k\#(i)"}"#
            )
            if r.status == 201, let seq = LiveFixture.object(r.body)["seq"] as? Int { acked.append(seq) }
        }
        f.node.signal(SIGKILL)
        _ = try await f.node.waitExit()

        f = try LiveFixture(port: port, dataDir: dataDir)
        defer { f.stop() }
        try await f.start()
        r = try await f.call("GET", "/live", as: "cat")
        #expect(r.status == 200 && LiveFixture.object(r.body)["id"] as? String == liveID)
        let page = try await f.call("GET", "/live/comments?after=0", as: "cat").body
        for seq in acked { #expect(page.contains("\"seq\":\(seq),"), "acknowledged seq \(seq) lost: \(page)") }
        // The resumed stream replays them too, in order, with no gap.
        let sse = try await f.readEvents(as: "cat", seconds: 1)
        #expect(LiveFixture.eventIDs(sse) == Array(1...UInt64(acked.max() ?? 1)))
        r = try await f.call("GET", "/replays", as: "bob")
        #expect(r.body.contains(recorded))
        let probe = try await Tools.run(
            "ffprobe",
            [
                "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                "\(f.base)/replays/\(recorded)/index.m3u8?access_token=\(f.tokens["bob"]!)",
            ]
        )
        let duration = Double(probe.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(duration > 2 && duration < 4, "replay after restart lasts \(duration) s \(probe.stderr)")
        // New writes continue the same log.
        r = try await f.call("POST", "/live/comments", as: "cat", json: #"{"text":"after","id":"after"}"#)
        #expect(LiveFixture.object(r.body)["seq"] as? Int == (acked.max() ?? 0) + 1)
    }
}
