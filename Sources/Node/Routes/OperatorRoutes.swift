import NIOCore
import Prometheus

/// `/healthz`, `/readyz`, `/metrics`: no token (API.md, Operator API).
enum OperatorRoutes {
    static func register(
        into router: inout Router,
        nodeID: String,
        state: NodeState,
        diskSpace: DiskSpace,
        registry: PrometheusCollectorRegistry,
        debugRoutes: Bool
    ) {
        // Probed constantly by load balancers and orchestrators: encoded once.
        let healthy = Response.json(["status": "ok", "node": nodeID])
        router.addImmediate(.GET, "/healthz") { _ in healthy }
        router.addImmediate(.GET, "/readyz") { _ in
            if let reason = state.notReadyReason {
                throw APIError.unavailable(reason, code: "not_ready")
            }
            // Low on disk, the node still serves viewers: ready, with the reason writes are refused.
            if let storage = diskSpace.readinessNote {
                return .json(["status": "ready", "node": nodeID, "storage": storage])
            }
            return .json(["status": "ready", "node": nodeID])
        }
        router.add(.GET, "/metrics") { _ in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(16 * 1024)
            registry.emit(into: &bytes)
            var response = Response(body: .buffer(ByteBuffer(bytes: MetricHelp.annotate(bytes))))
            response.headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
            return response
        }
        // Test support only (QUNBO_DEBUG_ROUTES=1): a request that takes a chosen time, to prove
        // that shutdown lets in-flight requests finish. Never registered otherwise.
        if debugRoutes {
            router.add(.GET, "/debug/sleep") { request in
                let ms = min(Int(request.query["ms"] ?? "") ?? 1000, 60_000)
                try await Task.sleep(for: .milliseconds(ms))
                return .json(["slept_ms": ms])
            }
        }
    }
}
