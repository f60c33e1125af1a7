import Foundation
import Testing

/// Hostile or broken clients: each is answered or cut off, and the node keeps serving.
@Suite("Bad input never hurts a node", .serialized)
struct BadInputTests {
    /// Short idle timeout so silent connections are shed quickly in tests.
    static let extra = ["--idle-timeout", "1s"]

    @Test("random bytes get a 400 or a closed connection")
    func randomBytes() async throws {
        let node = try NodeProcess(extra: Self.extra)
        defer { node.stop() }
        try await node.waitHealthy()
        var rng = SystemRandomNumberGenerator()
        for size in [1, 100, 5000, 70_000] {
            let socket = try RawSocket(port: node.port)
            socket.send((0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) })
            let (reply, closed) = socket.readUntilClosed(timeout: 5)
            #expect(closed, "connection fed \(size) random bytes was not closed")
            let text = String(decoding: reply, as: UTF8.self)
            #expect(reply.isEmpty || text.hasPrefix("HTTP/1.1 400") || text.hasPrefix("HTTP/1.1 431"))
        }
        #expect(try httpGet(port: node.port, path: "/healthz").status == 200)
    }

    @Test("a malformed request line gets the JSON 400 with Qunbo-Node")
    func malformedRequest() async throws {
        let node = try NodeProcess(extra: Self.extra)
        defer { node.stop() }
        try await node.waitHealthy()
        let socket = try RawSocket(port: node.port)
        socket.send("GET / HTTP/1.1\r\nHost: x\r\nbad header line without colon\r\n\r\n")
        let (reply, closed) = socket.readUntilClosed(timeout: 5)
        let text = String(decoding: reply, as: UTF8.self)
        #expect(closed)
        #expect(text.hasPrefix("HTTP/1.1 400"), "\(text)")
        #expect(text.contains("Qunbo-Node: \(node.id)"))
        #expect(text.contains("\"code\":\"bad_request\""))
    }

    @Test("a half HTTP/2 preface and a silent client are closed by the idle timeout")
    func stalledClients() async throws {
        let node = try NodeProcess(extra: Self.extra)
        defer { node.stop() }
        try await node.waitHealthy()
        let half = try RawSocket(port: node.port)
        half.send("PRI * HTTP/2.0\r\n")
        let silent = try RawSocket(port: node.port)
        let h1Partial = try RawSocket(port: node.port)
        h1Partial.send("GET /healthz HTTP/1.1\r\nHost: x\r\n")
        for socket in [half, silent, h1Partial] {
            let (_, closed) = socket.readUntilClosed(timeout: 10)
            #expect(closed, "stalled connection was not closed")
        }
        #expect(try httpGet(port: node.port, path: "/healthz").status == 200)
    }

    @Test("an oversized header block is refused over HTTP/1.1 (431) and HTTP/2")
    func oversizedHeaders() async throws {
        let node = try NodeProcess(extra: Self.extra)
        defer { node.stop() }
        try await node.waitHealthy()
        let socket = try RawSocket(port: node.port)
        let big = String(repeating: "x", count: 200_000)
        socket.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: \(big)\r\n\r\n")
        let (reply, closed) = socket.readUntilClosed(timeout: 5)
        #expect(closed)
        let text = String(decoding: reply, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 431") || text.isEmpty, "\(text.prefix(200))")

        let h2 = try await Tools.run(
            "curl",
            [
                "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--http2-prior-knowledge", "-H",
                "X-Big: \(String(repeating: "y", count: 40_000))", "\(node.url)/healthz",
            ]
        )
        #expect(h2.stdout != "200", "a 40 KB header over h2 must not be served (got \(h2.stdout))")
        #expect(try httpGet(port: node.port, path: "/healthz").status == 200)
        let after = try await Tools.run(
            "curl",
            ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--http2-prior-knowledge", "\(node.url)/healthz"]
        )
        #expect(after.stdout == "200")
    }

    @Test("HTTP/2 garbage after a valid preface gets GOAWAY, and the node survives")
    func h2Garbage() async throws {
        let node = try NodeProcess(extra: Self.extra)
        defer { node.stop() }
        try await node.waitHealthy()
        let socket = try RawSocket(port: node.port)
        socket.send(
            Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 4, 0xFF, 0, 0, 0, 0, 1]
                + Array(repeating: 0xAB, count: 64)
        )
        let (_, closed) = socket.readUntilClosed(timeout: 5)
        #expect(closed)
        #expect(try httpGet(port: node.port, path: "/healthz").status == 200)
    }
}
