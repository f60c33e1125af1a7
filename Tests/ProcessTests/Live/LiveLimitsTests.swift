import Foundation
import Testing

/// Access and domain limits with real clients: kicks hold on every viewer route, moderation
/// respects rank, tips are totaled per currency, viewers per user and the ingest bitrate are
/// capped, recordings stop at their quota, and replays of long logs stream in bounded pieces.
@Suite("Live limits and access", .serialized)
struct LiveLimitsTests {
    static func mint(_ user: String, _ group: String) async throws -> String {
        let minted = try await Tools.run(
            NodeProcess.binary,
            ["token", "--secret", LiveFixture.secret, "--user", user, "--group", group]
        )
        return minted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("a kicked user gets 403 kicked on index.m3u8, segments, stream.ts, events and the replay")
    func kickedOnEveryViewerRoute() async throws {
        let f = try LiveFixture()
        defer { f.stop() }
        try await f.start()
        var r = try await f.call("POST", "/live", as: "ann", json: #"{"title":"kick","record":true}"#)
        #expect(r.status == 201)
        let session = LiveFixture.object(r.body)["id"] as? String ?? ""
        let push = try FFmpeg.startPush(to: "\(f.base)/live/ingest?access_token=\(f.tokens["ann"]!)", seconds: 30)
        defer { push.stop() }
        var playlist = ""
        try await waitUntil("a first HLS segment", timeout: 20) {
            let p = try await f.call("GET", "/live/index.m3u8", as: "bob")
            playlist = p.body
            return p.status == 200
        }
        let segment = playlist.split(separator: "\n").first { $0.hasPrefix("segments/") }.map(String.init) ?? ""
        #expect(try await Self.status(f, "/live/\(segment)", as: "bob") == 200)

        #expect(
            try await f.call("POST", "/live/moderation", as: "dan", json: #"{"action":"kick","user":"bob"}"#).status
                == 201
        )
        for path in ["/live/index.m3u8", "/live/\(segment)", "/live/stream.ts", "/live/events"] {
            for http2 in [false, true] {
                let answer = try await f.call("GET", path, as: "bob", http2: http2)
                #expect(answer.status == 403 && answer.body.contains("\"kicked\""), "\(path) h2 \(http2): \(answer)")
            }
        }
        #expect(try await f.call("GET", "/live/index.m3u8", as: "cat").status == 200, "others still watch")
        #expect(try await Self.status(f, "/live/\(segment)", as: "cat") == 200)

        push.stop()
        let end = try await f.call("DELETE", "/live", as: "ann")
        #expect(end.status == 200, "\(end)")
        for path in ["/replays/\(session)/index.m3u8", "/replays/\(session)/events"] {
            let kicked = try await f.call("GET", path, as: "bob")
            #expect(kicked.status == 403 && kicked.body.contains("\"kicked\""), "\(path): \(kicked)")
            #expect(try await f.call("GET", path, as: "cat").status == 200, "\(path) for cat")
        }
    }

    @Test("moderation respects rank: nobody below the owner acts on the owner, admins not on admins")
    func moderationByRank() async throws {
        let f = try LiveFixture()
        defer { f.stop() }
        try await f.start()
        // Bob (a member) hosts; ann is the group's owner, dan an admin.
        #expect(try await f.call("POST", "/live", as: "bob", json: #"{"title":"rank"}"#).status == 201)
        #expect(
            try await f.call("POST", "/live/comments", as: "ann", json: #"{"text":"owner here","id":"a1"}"#).status
                == 201
        )
        #expect(
            try await f.call("POST", "/live/comments", as: "dan", json: #"{"text":"admin here","id":"d1"}"#).status
                == 201
        )
        for (actor, target) in [("dan", "ann"), ("bob", "ann"), ("bob", "dan")] {
            for action in ["kick", "mute"] {
                let r = try await f.call(
                    "POST",
                    "/live/moderation",
                    as: actor,
                    json: #"{"action":"\#(action)","user":"\#(target)"}"#
                )
                #expect(r.status == 403 && r.body.contains("outranked"), "\(actor) \(action) \(target): \(r)")
            }
        }
        #expect(
            try await f.call("POST", "/live/comments", as: "ann", json: #"{"text":"still here","id":"a2"}"#).status
                == 201
        )
        // The owner acts on an admin; an admin on a member.
        #expect(
            try await f.call("POST", "/live/moderation", as: "ann", json: #"{"action":"mute","user":"dan"}"#).status
                == 201
        )
        #expect(
            try await f.call("POST", "/live/moderation", as: "dan", json: #"{"action":"kick","user":"cat"}"#).status
                == 201
        )
        #expect(try await f.call("GET", "/live/events", as: "cat").status == 403)

        // An owner the session has not seen yet: the host's kick is logged but does not shut her out.
        let olga = try await Self.mint("olga", "g1:owner")
        #expect(
            try await f.call("POST", "/live/moderation", as: "bob", json: #"{"action":"kick","user":"olga"}"#).status
                == 201
        )
        #expect(try await f.call("POST", "/live/comments", as: olga, json: #"{"text":"hi","id":"o1"}"#).status == 201)
    }

    @Test("tips in two currencies are totaled per currency; tipsTotal counts the first currency only")
    func tipsPerCurrency() async throws {
        let f = try LiveFixture()
        defer { f.stop() }
        try await f.start()
        #expect(try await f.call("POST", "/live", as: "ann", json: #"{"title":"tips"}"#).status == 201)
        async let watching = f.readEvents(as: "dan", seconds: 6)
        for (user, amount, currency, id) in [
            ("bob", 500, "CNY", "t1"), ("cat", 300, "USD", "t2"), ("bob", 200, "CNY", "t3"),
        ] {
            let r = try await f.call(
                "POST",
                "/live/tips",
                as: user,
                json: #"{"amount":\#(amount),"currency":"\#(currency)","id":"\#(id)"}"#
            )
            #expect(r.status == 201, "\(r)")
        }
        for bad in ["usd", "US", "USDX", "U1D"] {
            let r = try await f.call(
                "POST",
                "/live/tips",
                as: "cat",
                json: #"{"amount":1,"currency":"\#(bad)","id":"b"}"#
            )
            #expect(r.status == 400, "currency \(bad): \(r)")
        }
        let session = LiveFixture.object(try await f.call("GET", "/live", as: "bob").body)
        #expect(session["tipsTotal"] as? Int == 700)
        #expect(session["tipsCurrency"] as? String == "CNY")
        #expect(session["tipsByCurrency"] as? [String: Int] == ["CNY": 700, "USD": 300])
        let sse = try await watching
        #expect(sse.contains(#""tipsByCurrency":{"CNY":700,"USD":300},"tipsCurrency":"CNY","tipsTotal":700"#), "\(sse)")
    }

    @Test("a user may hold --max-viewers-per-user streams of a session; one more is 429 too_many_viewers")
    func viewersPerUser() async throws {
        let f = try LiveFixture(extra: ["--max-viewers-per-user", "2"])
        defer { f.stop() }
        try await f.start()
        #expect(try await f.call("POST", "/live", as: "ann", json: #"{"title":"v"}"#).status == 201)
        let auth = "Authorization: Bearer \(f.tokens["bob"]!)"
        let first = try BackgroundTool("curl", ["-sN", "-H", auth, "\(f.base)/live/events"])
        let second = try BackgroundTool(
            "curl",
            ["-sN", "--http2-prior-knowledge", "-H", auth, "\(f.base)/live/events"]
        )
        defer {
            first.stop()
            second.stop()
        }
        try await waitUntil("bob's two streams to be counted") {
            LiveFixture.object(try await f.call("GET", "/live", as: "ann").body)["viewers"] as? Int == 2
        }
        for path in ["/live/events", "/live/stream.ts"] {
            let r = try await Curl.call("GET", f.base + path, token: f.tokens["bob"], timeout: 5)
            #expect(r.status == 429 && r.body.contains("too_many_viewers"), "\(path): \(r)")
        }
        let cat = try await Curl.call(
            "GET",
            "\(f.base)/live/events",
            token: f.tokens["cat"],
            timeout: 1
        )
        #expect(cat.status == 200, "another user still watches: \(cat)")
        first.stop()
        try await waitUntil("bob's place to be freed") {
            let r = try await Curl.call("GET", "\(f.base)/live/events", token: f.tokens["bob"], timeout: 1)
            return r.status == 200
        }
    }

    @Test("an ingest over --max-ingest-bitrate is cut with 429 ingest_bitrate; the live goes on")
    func ingestBitrate() async throws {
        let f = try LiveFixture(extra: ["--max-ingest-bitrate", "1000000"])
        defer { f.stop() }
        try await f.start()
        #expect(try await f.call("POST", "/live", as: "ann", json: #"{"title":"fast"}"#).status == 201)
        // 4 MB at once: over 5 s of 1 Mbit/s (625 kB) from the start.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("flood-\(UUID()).ts")
        var rng = SystemRandomNumberGenerator()
        try Data((0..<4_000_000).map { _ in UInt8.random(in: 0...255, using: &rng) }).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try await f.call("POST", "/live/ingest", as: "ann", headers: ["Expect:"], bodyFile: file.path)
        #expect(r.status == 429 || r.status == 0, "\(r)")
        if r.status == 429 { #expect(r.body.contains("ingest_bitrate")) }
        try await waitUntil("the cut to be logged") { f.node.log.contains("ingest cut: over the bitrate limit") }
        let metrics = try httpGet(port: f.node.port, path: "/metrics").body
        #expect(LimitsTableTests.refused(metrics, "ingest_bitrate") >= 1)
        let session = LiveFixture.object(try await f.call("GET", "/live", as: "bob").body)
        #expect(session["state"] as? String == "live")
    }

    @Test("a recording past --max-recording-bytes stops (logged, counted); the live goes on")
    func recordingQuota() async throws {
        let f = try LiveFixture(extra: ["--max-recording-bytes", "64KiB"])
        defer { f.stop() }
        try await f.start()
        #expect(try await f.call("POST", "/live", as: "ann", json: #"{"title":"rec","record":true}"#).status == 201)
        let push = try FFmpeg.startPush(to: "\(f.base)/live/ingest?access_token=\(f.tokens["ann"]!)", seconds: 30)
        defer { push.stop() }
        try await waitUntil("the recording to stop at its quota", timeout: 30) {
            f.node.log.contains("recording stopped")
        }
        let metrics = try httpGet(port: f.node.port, path: "/metrics").body
        #expect(metrics.contains(#"qunbo_live_recordings_stopped_total{reason="quota"} 1"#), "\(metrics)")
        try await waitUntil("the live to go on after the recording stopped") {
            try await f.call("GET", "/live/index.m3u8", as: "bob").status == 200
        }
        #expect(LiveFixture.object(try await f.call("GET", "/live", as: "bob").body)["state"] as? String == "live")
    }

    @Test("replay events and an SSE resume from 0 of a 5,000-event log arrive complete; memory stays bounded")
    func longReplay() async throws {
        let f = try LiveFixture()
        defer { f.stop() }
        try await f.start()
        let r = try await f.call("POST", "/live", as: "ann", json: #"{"title":"long"}"#)
        let session = LiveFixture.object(r.body)["id"] as? String ?? ""
        // Pins are privileged and not rate limited: 5,000 of them, 50 at a time on one h2 connection.
        let total = 5000
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("pins-\(UUID()).curl")
        var lines = ""
        let text = String(repeating: "p", count: 300)
        for i in 0..<total {
            lines += "url = \"\(f.base)/live/pins\"\nrequest = POST\noutput = /dev/null\n"
            lines +=
                "header = \"Authorization: Bearer \(f.tokens["ann"]!)\"\nheader = \"Content-Type: application/json\"\n"
            lines += "data = \"{\\\"text\\\":\\\"\(i) \(text)\\\"}\"\nwrite-out = \"%{http_code}\\\\n\"\n"
            // `next` separates transfers; one after the last is an empty transfer that curl
            // treats as a fatal error, aborting those in flight.
            if i < total - 1 { lines += "next\n" }
        }
        try lines.write(to: config, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: config) }
        let pins = try await Tools.run(
            "curl",
            ["-s", "--http2-prior-knowledge", "--parallel", "--parallel-max", "50", "--config", config.path],
            timeout: 300
        )
        let statuses = pins.stdout.split(separator: "\n")
        #expect(statuses.count == total && statuses.allSatisfy { $0 == "201" }, "\(Set(statuses))")
        // A resume from 0 gets the whole backlog (written in pieces), then goes on live.
        let resumed = LiveFixture.eventIDs(try await f.readEvents(as: "cat", seconds: 10, lastEventID: 0))
        #expect(resumed == Array(1...UInt64(total + 1)), "SSE resume from 0: \(resumed.count) events")
        #expect(try await f.call("DELETE", "/live", as: "ann").status == 200)

        let before = Self.rss(f.node)
        async let fetches = withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    try await Tools.run(
                        "curl",
                        [
                            "-s", "-H", "Authorization: Bearer \(f.tokens["cat"]!)",
                            "\(f.base)/replays/\(session)/events",
                        ],
                        timeout: 120
                    ).stdout
                }
            }
            var bodies: [String] = []
            for try await body in group { bodies.append(body) }
            return bodies
        }
        let bodies = try await fetches
        let after = Self.rss(f.node)
        for body in bodies {
            let events = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [[String: Any]] ?? []
            let seqs = events.compactMap { $0["seq"] as? Int }
            #expect(seqs == Array(1...(total + 2)), "replay: \(events.count) events")
        }
        #expect(after - before < 64 << 20, "RSS grew \((after - before) >> 20) MiB serving 4 replays")
    }

    /// The status of a GET whose body is binary (a media segment), body discarded.
    static func status(_ f: LiveFixture, _ path: String, as user: String) async throws -> Int {
        let r = try await Tools.run(
            "curl",
            [
                "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer \(f.tokens[user]!)",
                f.base + path,
            ]
        )
        return Int(r.stdout) ?? 0
    }

    /// Resident set size of the node process, bytes.
    static func rss(_ node: NodeProcess) -> Int {
        let status =
            (try? String(contentsOfFile: "/proc/\(node.process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }
}
