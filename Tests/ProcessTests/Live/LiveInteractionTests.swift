import Foundation
import Testing

/// Every interaction through real HTTP on a real node: roles, idempotency, moderation, filter,
/// rate limits, the event stream and its resume.
@Suite("Live interactions end to end", .serialized)
struct LiveInteractionTests {
    @Test("start, conflict, comments with idempotent retries, likes, tips, questions, pins, end")
    func interactions() async throws {
        let f = try LiveFixture(extra: ["--keyword-filter", "spoiler,badword"])
        defer { f.stop() }
        try await f.start()

        var r = try await f.call("GET", "/live", as: "bob")
        #expect(r.status == 404)
        r = try await f.call("POST", "/live", as: "bob", json: #"{"title":"Bob's live","record":false}"#)
        #expect(r.status == 201, "\(r.body)")
        let session = LiveFixture.object(r.body)
        #expect(session["host"] as? String == "bob" && session["state"] as? String == "live")
        #expect(session["endedAt"] is NSNull)
        r = try await f.call("POST", "/live", as: "ann", json: #"{"title":"again"}"#)
        #expect(r.status == 409)
        #expect(LiveFixture.object(r.body)["id"] as? String == session["id"] as? String)

        // Comments: 201 with seq; the same id again is the same seq, applied once.
        r = try await f.call("POST", "/live/comments", as: "cat", json: #"{"text":"  hello  ","id":"c-1"}"#)
        #expect(r.status == 201)
        let seq = LiveFixture.object(r.body)["seq"] as? Int
        #expect(seq == 2)
        r = try await f.call("POST", "/live/comments", as: "cat", json: #"{"text":"hello","id":"c-1"}"#, http2: true)
        #expect(r.status == 201 && LiveFixture.object(r.body)["seq"] as? Int == seq)
        r = try await f.call("GET", "/live/comments?after=0", as: "ann")
        #expect(r.body.components(separatedBy: "\"type\":\"comment\"").count == 2, "\(r.body)")
        #expect(r.body.contains(#""text":"hello""#))

        // Likes are counted; tips are idempotent and must be positive.
        r = try await f.call("POST", "/live/likes", as: "cat", json: #"{"count":5}"#)
        #expect(r.status == 202 && LiveFixture.object(r.body)["likes"] as? Int == 5)
        r = try await f.call("POST", "/live/tips", as: "cat", json: #"{"amount":500,"currency":"CNY","id":"t-1"}"#)
        #expect(r.status == 201)
        let tipSeq = LiveFixture.object(r.body)["seq"] as? Int
        r = try await f.call("POST", "/live/tips", as: "cat", json: #"{"amount":500,"currency":"CNY","id":"t-1"}"#)
        #expect(LiveFixture.object(r.body)["seq"] as? Int == tipSeq)
        r = try await f.call("POST", "/live/tips", as: "cat", json: #"{"amount":-5,"currency":"CNY","id":"t-2"}"#)
        #expect(r.status == 400)

        // Questions, highlights (host/admin only), pins.
        r = try await f.call("POST", "/live/questions", as: "cat", json: #"{"text":"when?","id":"q-1"}"#)
        let qSeq = LiveFixture.object(r.body)["seq"] as? Int ?? -1
        #expect(r.status == 201)
        r = try await f.call("POST", "/live/questions/\(qSeq)/highlight", as: "cat")
        #expect(r.status == 403)
        r = try await f.call("POST", "/live/questions/\(qSeq)/highlight", as: "dan")
        #expect(r.status == 201)
        r = try await f.call("POST", "/live/pins", as: "bob", json: #"{"text":"buy here"}"#)
        #expect(r.status == 201)
        r = try await f.call("DELETE", "/live/pins", as: "bob")
        #expect(r.status == 200)

        // Keyword filter.
        r = try await f.call("POST", "/live/comments", as: "cat", json: #"{"text":"huge SPOILER ahead","id":"c-2"}"#)
        #expect(r.status == 400 && LiveFixture.object(r.body)["error"].map { "\($0)" }?.contains("filtered") == true)

        // Access: no token 401, another group's member 403, member cannot end.
        #expect(try await f.call("GET", "/live", as: nil).status == 401)
        #expect(try await f.call("GET", "/live", as: "eve").status == 403)
        #expect(try await f.call("POST", "/live/comments", as: "eve", json: #"{"text":"x","id":"e"}"#).status == 403)
        #expect(try await f.call("DELETE", "/live", as: "cat").status == 403)

        // The owner ends it; the session reads ended; writes are refused.
        r = try await f.call("DELETE", "/live", as: "ann")
        #expect(r.status == 200 && LiveFixture.object(r.body)["state"] as? String == "ended")
        #expect(LiveFixture.object(r.body)["likes"] as? Int == 5)
        #expect(LiveFixture.object(r.body)["tipsTotal"] as? Int == 500)
        #expect(try await f.call("GET", "/live", as: "bob").status == 404)
    }

    @Test("mute and kick: a muted user's writes get 403, a kicked user's stream is closed and refused")
    func moderation() async throws {
        let f = try LiveFixture()
        defer { f.stop() }
        try await f.start()
        #expect(try await f.call("POST", "/live", as: "ann", json: #"{"title":"m"}"#).status == 201)
        #expect(
            try await f.call("POST", "/live/moderation", as: "bob", json: #"{"action":"mute","user":"cat"}"#).status
                == 403
        )
        #expect(
            try await f.call("POST", "/live/moderation", as: "dan", json: #"{"action":"mute","user":"cat"}"#).status
                == 201
        )
        #expect(try await f.call("POST", "/live/comments", as: "cat", json: #"{"text":"hi","id":"1"}"#).status == 403)
        #expect(
            try await f.call("POST", "/live/moderation", as: "ann", json: #"{"action":"unmute","user":"cat"}"#).status
                == 201
        )
        #expect(try await f.call("POST", "/live/comments", as: "cat", json: #"{"text":"hi","id":"2"}"#).status == 201)

        // Bob watches; the kick ends his stream well before his 20 s curl timeout.
        let started = ContinuousClock.now
        async let watching = f.readEvents(as: "bob", seconds: 20)
        try await waitUntil("bob's stream to be counted", timeout: 10) {
            let s = LiveFixture.object(try await f.call("GET", "/live", as: "ann").body)
            return (s["viewers"] as? Int ?? 0) >= 1
        }
        #expect(
            try await f.call("POST", "/live/moderation", as: "ann", json: #"{"action":"kick","user":"bob"}"#).status
                == 201
        )
        let sse = try await watching
        #expect(ContinuousClock.now - started < .seconds(15), "the kicked viewer's stream was not closed")
        #expect(sse.contains("event: kick"))
        #expect(try await f.call("GET", "/live/events", as: "bob").status == 403)
        #expect(try await f.call("POST", "/live/comments", as: "bob", json: #"{"text":"x","id":"3"}"#).status == 403)
    }

    @Test("writes past the per-user rate limit get 429 with Retry-After")
    func rateLimit() async throws {
        let f = try LiveFixture()
        defer { f.stop() }
        try await f.start()
        #expect(try await f.call("POST", "/live", as: "ann", json: "{}").status == 201)
        // Sent at once, so the burst (5) is spent before the bucket refills (2/s), however
        // slow the machine is.
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<12 {
                group.addTask {
                    try await f.call("POST", "/live/comments", as: "cat", json: #"{"text":"spam","id":"s\#(i)"}"#)
                        .status
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses.filter { $0 == 201 }.count >= 3)
        #expect(statuses.contains(429))
        let limited = try await Tools.run(
            "curl",
            [
                "-s", "-i", "-X", "POST", "-H", "Authorization: Bearer \(f.tokens["cat"]!)", "--data-binary",
                #"{"text":"x","id":"z"}"#, f.base + "/live/comments",
            ]
        )
        #expect(limited.stdout.lowercased().contains("retry-after:"))
    }

    @Test("the event stream replays then follows, and resumes with Last-Event-ID with no gap and no repeat")
    func eventStreamResume() async throws {
        let f = try LiveFixture()
        defer { f.stop() }
        try await f.start()
        #expect(try await f.call("POST", "/live", as: "ann", json: "{}").status == 201)
        for i in 0..<4 {
            _ = try await f.call(
                "POST",
                "/live/comments",
                as: ["bob", "cat"][i % 2],
                json: #"{"text":"n\#(i)","id":"k\#(i)"}"#
            )
        }
        let first = try await f.readEvents(as: "bob", seconds: 1.5)
        #expect(LiveFixture.eventIDs(first) == [1, 2, 3, 4, 5])
        #expect(first.contains("event: started") && first.contains("event: comment"))
        #expect(first.contains(#"data: {"seq":2,"type":"comment","user":"bob""#))
        // More writes while bob is away, then resume from what he saw.
        for i in 4..<7 {
            _ = try await f.call(
                "POST",
                "/live/comments",
                as: ["bob", "cat"][i % 2],
                json: #"{"text":"n\#(i)","id":"k\#(i)"}"#
            )
        }
        async let resumed = f.readEvents(as: "bob", seconds: 3, lastEventID: 5)
        try await Task.sleep(for: .milliseconds(800))
        _ = try await f.call("POST", "/live/questions", as: "cat", json: #"{"text":"live one?","id":"q"}"#)
        let second = try await resumed
        #expect(LiveFixture.eventIDs(second) == [6, 7, 8, 9], "\(second)")
        let viaQuery = try await Tools.run(
            "curl",
            ["-sN", "--max-time", "1", "\(f.base)/live/events?after=8&access_token=\(f.tokens["bob"]!)"]
        )
        #expect(LiveFixture.eventIDs(viaQuery.stdout) == [9])
    }
}
