import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Start, stop and misuse of the `qunbo` process.
@Suite("Node lifecycle", .serialized)
struct LifecycleTests {
    @Test("SIGTERM during a slow request: the request completes, the process exits 0")
    func gracefulShutdown() async throws {
        let node = try NodeProcess(environment: ["QUNBO_DEBUG_ROUTES": "1"])
        defer { node.stop() }
        try await node.waitHealthy()
        async let slow = Tools.run("curl", ["-sS", "-i", "\(node.url)/debug/sleep?ms=2000"])
        // Wait until the slow request is in flight (its HTTP/1.1 connection is counted open).
        try await waitUntil("the slow request to be in flight") {
            let m = try await Tools.run("curl", ["-sS", "--http2-prior-knowledge", "\(node.url)/metrics"])
            return m.stdout.contains("qunbo_http_open_connections{protocol=\"http1\"} 1")
        }
        node.signal(SIGTERM)
        let result = try await slow
        #expect(result.stdout.hasPrefix("HTTP/1.1 200"), "slow request: \(result.stdout) \(result.stderr)")
        #expect(result.stdout.contains("\"slept_ms\":2000"))
        let status = try await node.waitExit()
        #expect(status == 0, "exit status \(status); log:\n\(node.log)")
    }

    @Test("SIGTERM with idle keep-alive and HTTP/2 connections exits 0 promptly")
    func shutdownWithIdleConnections() async throws {
        let node = try NodeProcess()
        defer { node.stop() }
        try await node.waitHealthy()
        let idle = try RawSocket(port: node.port)
        idle.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        node.signal(SIGTERM)
        let status = try await node.waitExit(timeout: 8)
        #expect(status == 0)
        let (_, closed) = idle.readUntilClosed(timeout: 2)
        #expect(closed)
    }

    @Test("a port already in use: one clear line on stderr, non-zero exit")
    func portInUse() async throws {
        let first = try NodeProcess()
        defer { first.stop() }
        try await first.waitHealthy()
        let second = try await Tools.run(
            NodeProcess.binary,
            ["node", "--listen", "127.0.0.1:\(first.port)", "--data-dir", NSTemporaryDirectory() + "/q-\(UUID())"]
        )
        #expect(second.status != 0)
        #expect(Self.oneErrorLine(second.stderr).contains("address already in use"), "\(second.stderr)")
    }

    @Test("an unreadable config file and an unknown flag: one clear line, non-zero exit")
    func misuse() async throws {
        let missing = try await Tools.run(NodeProcess.binary, ["node", "--config", "/nonexistent/qunbo.yaml"])
        #expect(missing.status != 0)
        #expect(Self.oneErrorLine(missing.stderr).contains("cannot read config file /nonexistent/qunbo.yaml"))

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let asDir = try await Tools.run(NodeProcess.binary, ["node", "--config", dir.path])
        #expect(asDir.status != 0)
        #expect(Self.oneErrorLine(asDir.stderr).contains("is a directory"))

        let unknown = try await Tools.run(NodeProcess.binary, ["node", "--no-such-flag"])
        #expect(unknown.status != 0)
        #expect(Self.oneErrorLine(unknown.stderr).contains("--no-such-flag"))

        let badValue = try await Tools.run(NodeProcess.binary, ["node", "--listen", "nowhere"])
        #expect(badValue.status != 0)
        #expect(Self.oneErrorLine(badValue.stderr).contains("--listen"))
    }

    @Test("restarted right after kill -9, a node binds its port again at once")
    func restartAfterKill() async throws {
        let port = freePort()
        let first = try NodeProcess(port: port)
        try await first.waitHealthy()
        // Leave a connection in TIME_WAIT on the server side, the case SO_REUSEADDR exists for.
        _ = try httpGet(port: port, path: "/healthz")
        first.signal(SIGKILL)
        _ = try await first.waitExit()
        let second = try NodeProcess(port: port)
        defer { second.stop() }
        try await second.waitHealthy(timeout: 5)
        #expect(second.isRunning)
    }

    /// Asserts stderr is exactly one line starting `qunbo: error:` and returns it.
    static func oneErrorLine(_ stderr: String) -> String {
        let lines = stderr.split(separator: "\n")
        #expect(lines.count == 1, "expected one line on stderr, got:\n\(stderr)")
        #expect(!stderr.contains("Fatal error") && !stderr.contains("backtrace"))
        let line = String(lines.first ?? "")
        #expect(line.hasPrefix("qunbo: error: "))
        return line
    }
}
