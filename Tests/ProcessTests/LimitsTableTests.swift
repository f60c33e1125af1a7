import Foundation
import Testing

/// Every connection limit tried over HTTP/1.1 and HTTP/2 against real nodes started with small
/// limits: each hostile client is refused with the documented answer (OPERATIONS.md, Limits),
/// and after each one the node still answers `/healthz` over both protocols and a normal
/// client's request.
@Suite("Limits: one bad-input table over HTTP/1.1 and HTTP/2", .serialized)
struct LimitsTableTests {
    /// The node for deadlines and sizes: 2 s idle, 1 s header and body-read deadlines.
    static let timing = [
        "--idle-timeout", "2s", "--header-timeout", "1s", "--body-read-timeout", "1s", "--max-body-bytes", "4096",
    ]
    /// The node for connection counts: 10 in all, 6 per IP, long idle so held sockets stay.
    static let counting = ["--idle-timeout", "60s", "--max-connections", "10", "--max-connections-per-ip", "6"]

    struct Case {
        var name: String
        var run: @Sendable (LiveFixture) async throws -> Void
    }

    @Test("deadlines, stream floods, PING-held connections and oversize input are refused; the node serves on")
    func timingTable() async throws {
        let f = try LiveFixture(extra: Self.timing)
        defer { f.stop() }
        try await f.start()
        #expect(try await f.call("POST", "/live", as: "ann", json: #"{"title":"limits"}"#).status == 201)
        let cases: [Case] = [
            Case(name: "HTTP/1.1 headers trickled a byte at a time (slowloris): 408 header_timeout") { f in
                let socket = try RawSocket(port: f.node.port)
                socket.send("GET /healthz HTTP/1.1\r\nHost: x\r\n")
                let slow = Array("X-Slow: \(String(repeating: "a", count: 60))".utf8)
                let (reply, closed) = Self.trickle(slow, to: socket)
                let text = String(decoding: reply, as: UTF8.self)
                #expect(closed, "the trickling connection was not closed")
                #expect(text.hasPrefix("HTTP/1.1 408") && text.contains("header_timeout"), "\(text.prefix(300))")
            },
            Case(name: "HTTP/2 HEADERS payload trickled: GOAWAY ENHANCE_YOUR_CALM") { f in
                let socket = try RawSocket(port: f.node.port)
                #expect(socket.http2Handshake())
                let block = RawHTTP2.request("GET", "/healthz", [("x-slow", String(repeating: "a", count: 60))])
                let frame = RawHTTP2.frame(.headers, flags: 0x5, stream: 1, block)
                socket.send(Array(frame.prefix(9)))
                let (reply, closed) = Self.trickle(Array(frame.dropFirst(9)), to: socket)
                var bytes = reply
                let frames = RawHTTP2.parse(&bytes)
                #expect(closed, "the trickling connection was not closed")
                #expect(
                    frames.contains { $0.type == RawHTTP2.FrameType.goAway.rawValue && $0.errorCode == 0xb },
                    "\(frames)"
                )
            },
            Case(name: "HTTP/1.1 body that stops arriving: 408 body_timeout") { f in
                let socket = try RawSocket(port: f.node.port)
                socket.send(
                    "POST /v1/groups/g1/live/comments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(f.tokens["bob"]!)\r\n"
                        + "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"text\":"
                )
                let (reply, closed) = socket.readUntilClosed(timeout: 8)
                let text = String(decoding: reply, as: UTF8.self)
                #expect(closed)
                #expect(text.hasPrefix("HTTP/1.1 408") && text.contains("body_timeout"), "\(text.prefix(300))")
            },
            Case(name: "HTTP/2 body that stops arriving: the stream is answered and ended") { f in
                let socket = try RawSocket(port: f.node.port)
                let block = RawHTTP2.request(
                    "POST",
                    "/v1/groups/g1/live/comments",
                    [
                        ("authorization", "Bearer \(f.tokens["bob"]!)"), ("content-type", "application/json"),
                        ("content-length", "100"),
                    ]
                )
                #expect(socket.http2Handshake())
                socket.send(
                    RawHTTP2.frame(.headers, flags: 0x4, stream: 1, block)
                        + RawHTTP2.frame(.data, stream: 1, Array("{\"text\":".utf8))
                )
                let (frames, _) = socket.readFrames(timeout: 8) { frames in
                    frames.contains {
                        $0.stream == 1 && ($0.endsStream || $0.type == RawHTTP2.FrameType.rstStream.rawValue)
                    }
                }
                #expect(
                    frames.contains { $0.stream == 1 && $0.type == RawHTTP2.FrameType.headers.rawValue },
                    "no response on the stalled stream: \(frames)"
                )
                #expect(
                    frames.contains {
                        $0.stream == 1 && ($0.endsStream || $0.type == RawHTTP2.FrameType.rstStream.rawValue)
                    },
                    "the stalled stream was not ended: \(frames)"
                )
            },
            Case(name: "HTTP/2 stream flood past 100 concurrent streams: GOAWAY PROTOCOL_ERROR") { f in
                let socket = try RawSocket(port: f.node.port)
                #expect(socket.http2Handshake())
                var bytes: [UInt8] = []
                for i in 0..<150 {
                    // END_HEADERS without END_STREAM: each stream stays open.
                    bytes += RawHTTP2.frame(
                        .headers,
                        flags: 0x4,
                        stream: UInt32(2 * i + 1),
                        RawHTTP2.request("GET", "/healthz")
                    )
                }
                socket.send(bytes)
                let (frames, closed) = socket.readFrames(timeout: 8) { frames in
                    frames.contains { $0.type == RawHTTP2.FrameType.goAway.rawValue }
                }
                let goAway = frames.first { $0.type == RawHTTP2.FrameType.goAway.rawValue }
                #expect(goAway?.errorCode == 0x1, "expected GOAWAY PROTOCOL_ERROR, got \(String(describing: goAway))")
                #expect(closed || goAway != nil)
            },
            Case(name: "HTTP/2 PINGs alone do not keep an idle connection: GOAWAY and close") { f in
                let socket = try RawSocket(port: f.node.port)
                #expect(socket.http2Handshake())
                #expect(Self.pingUntilClosed(socket, seconds: 10), "a PING-only connection outlived the idle timeout")
            },
            Case(name: "HTTP/2 half-open streams held by PINGs: streams reset, connection closed") { f in
                let socket = try RawSocket(port: f.node.port)
                #expect(socket.http2Handshake())
                var bytes: [UInt8] = []
                for stream in stride(from: UInt32(1), through: 9, by: 2) {
                    bytes += RawHTTP2.frame(.headers, flags: 0x4, stream: stream, RawHTTP2.request("GET", "/healthz"))
                }
                socket.send(bytes)
                #expect(Self.pingUntilClosed(socket, seconds: 15), "half-open streams kept the connection past idle")
            },
            Case(name: "HTTP/1.1 header block over the limit: 431") { f in
                let socket = try RawSocket(port: f.node.port)
                socket.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "x", count: 200_000))\r\n\r\n")
                let (reply, closed) = socket.readUntilClosed(timeout: 5)
                let text = String(decoding: reply, as: UTF8.self)
                #expect(closed)
                #expect(text.hasPrefix("HTTP/1.1 431") || text.isEmpty, "\(text.prefix(200))")
            },
            Case(name: "HTTP/1.1 URL over the limit: 431 or 400, closed") { f in
                let socket = try RawSocket(port: f.node.port)
                socket.send("GET /healthz?x=\(String(repeating: "u", count: 200_000)) HTTP/1.1\r\nHost: x\r\n\r\n")
                let (reply, closed) = socket.readUntilClosed(timeout: 5)
                let text = String(decoding: reply, as: UTF8.self)
                #expect(closed)
                #expect(
                    text.hasPrefix("HTTP/1.1 431") || text.hasPrefix("HTTP/1.1 400") || text.isEmpty,
                    "\(text.prefix(200))"
                )
            },
            Case(name: "HTTP/2 header block and URL over the limit: not served") { f in
                let big = try await Tools.run(
                    "curl",
                    [
                        "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--http2-prior-knowledge", "-H",
                        "X-Big: \(String(repeating: "y", count: 40_000))", "\(f.node.url)/healthz",
                    ]
                )
                #expect(big.stdout != "200", "a 40 KB header over h2 was served")
                let url = try await Tools.run(
                    "curl",
                    [
                        "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--http2-prior-knowledge",
                        "\(f.node.url)/healthz?x=\(String(repeating: "u", count: 40_000))",
                    ]
                )
                #expect(url.stdout != "200", "a 40 KB URL over h2 was served")
            },
            Case(name: "a JSON body over --max-body-bytes: 413 over HTTP/1.1 and HTTP/2") { f in
                let text = String(repeating: "z", count: 5000)
                for http2 in [false, true] {
                    let r = try await f.call(
                        "POST",
                        "/live/comments",
                        as: "bob",
                        json: #"{"text":"\#(text)","id":"big"}"#,
                        http2: http2
                    )
                    #expect(r.status == 413 && r.body.contains("too_large"), "http2 \(http2): \(r)")
                }
            },
        ]
        for c in cases {
            print("limits table case: \(c.name)")
            try await c.run(f)
            try await Self.expectServing(f, after: c.name)
        }
        let metrics = try httpGet(port: f.node.port, path: "/metrics").body
        for reason in ["header_timeout", "body_timeout", "max_streams"] {
            #expect(Self.refused(metrics, reason) > 0, "qunbo_http_refused_total{reason=\"\(reason)\"} not counted")
        }
    }

    @Test("connection floods from one IP and across IPs are refused: 503 + Retry-After (HTTP/1.1), GOAWAY (HTTP/2)")
    func connectionTable() async throws {
        let f = try LiveFixture(extra: Self.counting)
        defer { f.stop() }
        try await f.start()
        #expect(try await f.call("POST", "/live", as: "ann", json: #"{"title":"limits"}"#).status == 201)

        // Per IP: 6 from 127.0.0.5 are served and held; the 7th and 8th are refused.
        var held = try Self.hold(6, from: "127.0.0.5", port: f.node.port)
        try Self.expectRefused(from: "127.0.0.5", port: f.node.port, nodeID: f.node.id)
        try await Self.expectServing(f, after: "a connection flood from 127.0.0.5")
        held.removeAll()
        try await waitUntil("127.0.0.5 to be served again once its connections closed") {
            (try? Self.hold(1, from: "127.0.0.5", port: f.node.port).count) == 1
        }

        // Per node: 5 from each of two IPs fill the node's 10; any IP is then refused.
        try await waitUntil("the node to release the last test connections") {
            let probe = try Self.hold(1, from: "127.0.0.9", port: f.node.port)
            return probe.count == 1
        }
        held = try Self.hold(5, from: "127.0.0.6", port: f.node.port) + Self.hold(5, from: "127.0.0.7", port: f.node.port)
        try Self.expectRefused(from: "127.0.0.8", port: f.node.port, nodeID: f.node.id)
        held.removeAll()
        try await waitUntil("the node to take connections again once the flood closed") {
            (try? httpGet(port: f.node.port, path: "/healthz").status) == 200
        }
        try await Self.expectServing(f, after: "a connection flood filling the node")

        let metrics = try httpGet(port: f.node.port, path: "/metrics").body
        for reason in ["max_connections_per_ip", "max_connections"] {
            #expect(Self.refused(metrics, reason) > 0, "qunbo_http_refused_total{reason=\"\(reason)\"} not counted")
        }
    }

    // MARK: Helpers

    /// Sends `bytes` one every 100 ms while reading; returns what came back and whether the
    /// peer closed (stops at the close, or after 8 s).
    static func trickle(_ bytes: [UInt8], to socket: RawSocket) -> (bytes: [UInt8], closed: Bool) {
        var reply: [UInt8] = []
        let deadline = Date().addingTimeInterval(8)
        var index = 0
        while Date() < deadline {
            if index < bytes.count {
                socket.send([bytes[index]])
                index += 1
            }
            guard let got = socket.readSome(timeout: 0.1) else { return (reply, true) }
            reply += got
        }
        return (reply, false)
    }

    /// Sends a PING every 100 ms until the peer closes (true) or `seconds` pass (false).
    static func pingUntilClosed(_ socket: RawSocket, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        var n: UInt8 = 0
        while Date() < deadline {
            n &+= 1
            guard socket.send(RawHTTP2.frame(.ping, payload8(n))) else { return true }
            if socket.readSome(timeout: 0.1) == nil { return true }
        }
        return false
    }

    static func payload8(_ n: UInt8) -> [UInt8] { [0, 0, 0, 0, 0, 0, 0, n] }

    /// `count` keep-alive connections from `source`, each proven admitted by a served request
    /// (a refused one is retried for up to 5 s: connections the test just closed may not have
    /// been released by the node yet).
    static func hold(_ count: Int, from source: String, port: Int) throws -> [RawSocket] {
        try (0..<count).map { i in
            let deadline = Date().addingTimeInterval(5)
            var last = ""
            repeat {
                let socket = try RawSocket(port: port, from: source)
                socket.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                var reply: [UInt8] = []
                let answered = Date().addingTimeInterval(5)
                while Date() < answered, !String(decoding: reply, as: UTF8.self).contains("\r\n\r\n{") {
                    guard let got = socket.readSome(timeout: 0.1) else { break }
                    reply += got
                }
                last = String(decoding: reply, as: UTF8.self)
                if last.hasPrefix("HTTP/1.1 200") { return socket }
                Thread.sleep(forTimeInterval: 0.05)
            } while Date() < deadline
            throw HoldFailed(detail: "connection \(i + 1) from \(source): \(last.prefix(200))")
        }
    }

    struct HoldFailed: Error, CustomStringConvertible {
        var detail: String
        var description: String { "could not hold a connection: \(detail)" }
    }

    /// One more connection from `source`, over HTTP/1.1 and over HTTP/2, is refused.
    static func expectRefused(from source: String, port: Int, nodeID: String) throws {
        let h1 = try RawSocket(port: port, from: source)
        h1.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        let (reply, closed) = h1.readUntilClosed(timeout: 5)
        let text = String(decoding: reply, as: UTF8.self)
        #expect(closed)
        #expect(text.hasPrefix("HTTP/1.1 503") && text.contains("too_many_connections"), "\(text.prefix(300))")
        #expect(text.contains("Retry-After: ") && text.contains("Qunbo-Node: \(nodeID)"), "\(text.prefix(300))")

        let h2 = try RawSocket(port: port, from: source)
        h2.send(RawHTTP2.opening)
        let (frames, h2closed) = h2.readFrames(timeout: 5)
        #expect(h2closed)
        #expect(
            frames.contains { $0.type == RawHTTP2.FrameType.goAway.rawValue && $0.errorCode == 0xb },
            "\(frames)"
        )
    }

    /// `/healthz` over HTTP/1.1 and HTTP/2, and a member's `GET /live`, answer 200.
    static func expectServing(_ f: LiveFixture, after what: String) async throws {
        #expect(try httpGet(port: f.node.port, path: "/healthz").status == 200, "h1 /healthz after: \(what)")
        let h2 = try await Tools.run(
            "curl",
            ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--http2-prior-knowledge", "\(f.node.url)/healthz"]
        )
        #expect(h2.stdout == "200", "h2 /healthz after: \(what)")
        let normal = try await f.call("GET", "/live", as: "cat")
        #expect(normal.status == 200, "a member's GET /live after: \(what): \(normal)")
        #expect(f.node.isRunning, "the node died after: \(what)")
    }

    /// The value of `qunbo_http_refused_total{reason="…"}` in a metrics text.
    static func refused(_ metrics: String, _ reason: String) -> Double {
        for line in metrics.split(separator: "\n") where line.hasPrefix("qunbo_http_refused_total")
            && line.contains("reason=\"\(reason)\"")
        {
            return Double(line.split(separator: " ").last ?? "") ?? 0
        }
        return 0
    }
}
