import Foundation
import Testing

/// Real clients (curl, nghttp, promtool) against a real `qunbo node` process.
@Suite("Node server with real clients", .serialized)
struct ServerProtocolTests {
    @Test("curl over HTTP/1.1 and h2c, and nghttp, get /healthz with Qunbo-Node")
    func healthzWithRealClients() async throws {
        let node = try NodeProcess()
        defer { node.stop() }
        try await node.waitHealthy()

        let h1 = try await Tools.run("curl", ["-sS", "-i", "--http1.1", "\(node.url)/healthz"])
        #expect(h1.status == 0, "\(h1.stderr)")
        #expect(h1.stdout.hasPrefix("HTTP/1.1 200"))
        #expect(h1.stdout.lowercased().contains("qunbo-node: \(node.id)"))
        #expect(h1.stdout.contains("\"status\":\"ok\""))

        let h2 = try await Tools.run("curl", ["-sS", "-i", "--http2-prior-knowledge", "\(node.url)/healthz"])
        #expect(h2.status == 0, "\(h2.stderr)")
        #expect(h2.stdout.hasPrefix("HTTP/2 200"))
        #expect(h2.stdout.contains("qunbo-node: \(node.id)"))

        let ng = try await Tools.run("nghttp", ["-v", "\(node.url)/healthz"])
        #expect(ng.status == 0, "\(ng.stderr)")
        #expect(ng.stdout.contains("qunbo-node: \(node.id)"))
        #expect(ng.stdout.contains(":status: 200"))

        let ready = try await Tools.run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "\(node.url)/readyz"])
        #expect(ready.stdout == "200")
    }

    @Test("errors are JSON with Qunbo-Node; unknown routes 404, wrong methods 405")
    func jsonErrors() async throws {
        let node = try NodeProcess()
        defer { node.stop() }
        try await node.waitHealthy()
        let notFound = try await Tools.run("curl", ["-sS", "-i", "--http2-prior-knowledge", "\(node.url)/nope"])
        #expect(notFound.stdout.hasPrefix("HTTP/2 404"))
        #expect(notFound.stdout.contains("qunbo-node: \(node.id)"))
        #expect(notFound.stdout.contains("{\"error\":{\"code\":\"not_found\""))
        let wrongMethod = try await Tools.run("curl", ["-sS", "-i", "-X", "DELETE", "\(node.url)/healthz"])
        #expect(wrongMethod.stdout.hasPrefix("HTTP/1.1 405"))
        #expect(wrongMethod.stdout.contains("\"code\":\"method_not_allowed\""))
    }

    @Test("/metrics is valid Prometheus text with request counts by route and status")
    func metricsPassPromtool() async throws {
        let node = try NodeProcess()
        defer { node.stop() }
        try await node.waitHealthy()
        _ = try await Tools.run("curl", ["-sS", "--http2-prior-knowledge", "\(node.url)/healthz"])
        _ = try await Tools.run("curl", ["-sS", "\(node.url)/nope"])
        let metrics = try await Tools.run("curl", ["-sS", "\(node.url)/metrics"])
        #expect(metrics.stdout.contains("qunbo_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"}"))
        #expect(metrics.stdout.contains("qunbo_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}"))
        #expect(metrics.stdout.contains("qunbo_http_request_duration_seconds_bucket"))
        #expect(metrics.stdout.contains("qunbo_http_open_connections{protocol=\"http1\"}"))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID()).txt")
        try metrics.stdout.write(to: file, atomically: true, encoding: .utf8)
        let promtool = try Tools.require("promtool")
        let check = try await Tools.run("/bin/sh", ["-c", "\(promtool) check metrics < \(file.path)"])
        // promtool exits 0 for valid text; lint warnings (e.g. missing HELP) go to stdout/stderr only.
        #expect(check.status == 0, "promtool: \(check.stdout) \(check.stderr)")
    }

    @Test("TLS with ALPN serves HTTP/2 and HTTP/1.1 on the same port")
    func tlsALPN() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let cert = dir.appendingPathComponent("cert.pem").path
        let key = dir.appendingPathComponent("key.pem").path
        let gen = try await Tools.run(
            "openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                "-subj", "/CN=localhost", "-keyout", key, "-out", cert,
            ]
        )
        #expect(gen.status == 0, "\(gen.stderr)")
        let node = try NodeProcess(extra: ["--tls-cert", cert, "--tls-key", key])
        defer { node.stop() }
        let url = "https://127.0.0.1:\(node.port)/healthz"
        try await waitUntil("TLS node to answer") {
            try await Tools.run("curl", ["-sk", "-o", "/dev/null", url]).status == 0
        }
        let h2 = try await Tools.run("curl", ["-sSik", "--http2", url])
        #expect(h2.stdout.hasPrefix("HTTP/2 200"), "\(h2.stdout) \(h2.stderr)")
        #expect(h2.stdout.contains("qunbo-node: \(node.id)"))
        let h1 = try await Tools.run("curl", ["-sSik", "--http1.1", url])
        #expect(h1.stdout.hasPrefix("HTTP/1.1 200"), "\(h1.stdout) \(h1.stderr)")
    }
}
