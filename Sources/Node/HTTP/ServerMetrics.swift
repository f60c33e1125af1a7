import CoreMetrics
import Synchronization

/// HTTP metrics of one node: request counts and latencies by route and status, open
/// connections by protocol. Exported through the node's Prometheus registry.
public final class ServerMetrics: Sendable {
    private let factory: any MetricsFactory
    /// Handlers are cached so the hot path costs one lock and a dictionary lookup.
    private let requests = Mutex<[RequestKey: (count: Counter, duration: Timer)]>([:])
    /// Durations by route only (one histogram per route, whatever the status). Taken inside
    /// `requests`' lock when a new key is first seen, never the other way round.
    private let timers = Mutex<[String: Timer]>([:])
    private let openConnections: [String: Meter]
    private let acceptedConnections: [String: Counter]
    private let refusals = Mutex<[String: Counter]>([:])

    public init(factory: any MetricsFactory) {
        self.factory = factory
        var open: [String: Meter] = [:]
        var accepted: [String: Counter] = [:]
        for proto in ["http1", "http2"] {
            open[proto] = Meter(
                label: "qunbo_http_open_connections",
                dimensions: [("protocol", proto)],
                factory: factory
            )
            accepted[proto] = Counter(
                label: "qunbo_http_connections_total",
                dimensions: [("protocol", proto)],
                factory: factory
            )
        }
        self.openConnections = open
        self.acceptedConnections = accepted
    }

    /// Records one finished request.
    public func request(route: String, method: String, status: Int, duration: Duration) {
        let key = RequestKey(route: route, method: method, status: status)
        let handlers = requests.withLock { cache in
            if let made = cache[key] { return made }
            let made = (
                count: Counter(
                    label: "qunbo_http_requests_total",
                    dimensions: [("route", route), ("method", method), ("status", String(status))],
                    factory: factory
                ),
                duration: timer(route)
            )
            cache[key] = made
            return made
        }
        handlers.count.increment()
        handlers.duration.recordNanoseconds(duration.nanoseconds)
    }

    private func timer(_ route: String) -> Timer {
        timers.withLock { cache in
            if let t = cache[route] { return t }
            let t = Timer(
                label: "qunbo_http_request_duration_seconds",
                dimensions: [("route", route)],
                factory: factory
            )
            cache[route] = t
            return t
        }
    }

    private struct RequestKey: Hashable {
        var route: String
        var method: String
        var status: Int
    }

    /// A connection negotiated `proto` (`http1`, `http2`).
    public func connectionOpened(_ proto: String) {
        openConnections[proto]?.increment()
        acceptedConnections[proto]?.increment()
    }

    public func connectionClosed(_ proto: String) {
        openConnections[proto]?.decrement()
    }

    /// A connection, stream or request cut by a limit: `reason` is `max_connections`,
    /// `max_connections_per_ip`, `max_streams`, `header_timeout`, `body_timeout`,
    /// `too_many_viewers` or `ingest_bitrate` (`qunbo_http_refused_total{reason}`).
    public func refused(_ reason: String) {
        let counter = refusals.withLock { cache in
            if let c = cache[reason] { return c }
            let c = Counter(label: "qunbo_http_refused_total", dimensions: [("reason", reason)], factory: factory)
            cache[reason] = c
            return c
        }
        counter.increment()
    }
}

extension Duration {
    /// Whole nanoseconds, saturating.
    var nanoseconds: Int64 {
        let (s, atto) = components
        let (ns, overflow) = s.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : ns &+ atto / 1_000_000_000
    }
}
