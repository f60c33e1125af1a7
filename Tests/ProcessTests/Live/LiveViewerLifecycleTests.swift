import Foundation
import Testing

/// Event viewers are handed to the session's fan-out once their response head is out (no task
/// waits per viewer): the hand-off must not outlive the viewer, nor let a hang-up go unseen.
@Suite("Live event viewers come and go", .serialized)
struct LiveViewerLifecycleTests {
    /// `qunbo_live_viewers` as the node reports it.
    static func viewers(_ f: LiveFixture) throws -> Int {
        let metrics = try httpGet(port: f.node.port, path: "/metrics").body
        let line = metrics.split(separator: "\n").first {
            $0.hasPrefix("qunbo_live_viewers") && $0.contains("kind=\"events\"")
        }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }.map { Int($0) } ?? -1
    }

    @Test("viewers over HTTP/1.1 and h2c get events, hang up, are seen gone at once; the node stays up")
    func viewersHangUp() async throws {
        let f = try LiveFixture()
        defer { f.stop() }
        try await f.start()
        var r = try await f.call("POST", "/live", as: "bob", json: #"{"title":"come and go"}"#)
        #expect(r.status == 201, "\(r.body)")
        let token = f.tokens["cat"]!
        for round in 0..<3 {
            let plain = try EventReader(url: "\(f.base)/live/events?after=0", token: token)
            let h2 = try EventReader(url: "\(f.base)/live/events?after=0", token: token, http2: true)
            try await waitUntil("two viewers registered", timeout: 10) { try Self.viewers(f) == 2 }
            r = try await f.call(
                "POST",
                "/live/comments",
                as: "cat",
                json: #"{"text":"round \#(round)","id":"r\#(round)"}"#
            )
            #expect(r.status == 201, "\(r.body)")
            let seq = UInt64(LiveFixture.object(r.body)["seq"] as? Int ?? 0)
            try await plain.waitFor(seq: seq, timeout: 10)
            try await h2.waitFor(seq: seq, timeout: 10)
            // The clients hang up with nothing more to read: the node must notice without
            // having to write to them (pings are 15 s apart).
            plain.stop()
            h2.stop()
            try await waitUntil("both viewers gone", timeout: 5) { try Self.viewers(f) == 0 }
        }
        #expect(f.node.isRunning)
        #expect(try httpGet(port: f.node.port, path: "/healthz").status == 200)
        // The session ends: a viewer still connected gets the end of the stream and its
        // connection is closed by the node.
        let last = try EventReader(url: "\(f.base)/live/events?after=0", token: token)
        try await waitUntil("a viewer registered", timeout: 10) { try Self.viewers(f) == 1 }
        r = try await f.call("DELETE", "/live", as: "bob")
        #expect(r.status == 200, "\(r.body)")
        try await waitUntil("the viewer's stream to end", timeout: 10) { !last.isConnected }
        #expect(last.text.contains("event: ended"), "\(last.text.suffix(300))")
        #expect(f.node.isRunning)
    }
}
