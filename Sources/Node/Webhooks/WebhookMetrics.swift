import CoreMetrics
import Live

/// Metrics of webhook delivery at this node (only primaries send).
final class WebhookMetrics: Sendable {
    /// Entries owed by the logs this node is primary of, per destination (refreshed each second).
    let backlog: [UInt64: Meter]
    let delivered: Counter
    let failed: Counter
    let timedOut: Counter
    let dropped: Counter
    /// From the causing event's decision to the receiver's 2xx.
    let latency: Timer

    init(destinations: [WebhookDestinationConfig], factory: any MetricsFactory) {
        backlog = Dictionary(
            uniqueKeysWithValues: destinations.map {
                (
                    $0.key,
                    Meter(label: "qunbo_webhook_backlog", dimensions: [("destination", $0.label)], factory: factory)
                )
            }
        )
        delivered = Counter(label: "qunbo_webhook_attempts_total", dimensions: [("result", "ok")], factory: factory)
        failed = Counter(label: "qunbo_webhook_attempts_total", dimensions: [("result", "failed")], factory: factory)
        timedOut = Counter(label: "qunbo_webhook_attempts_total", dimensions: [("result", "timeout")], factory: factory)
        dropped = Counter(label: "qunbo_webhook_dropped_total", factory: factory)
        latency = Timer(label: "qunbo_webhook_delivery_seconds", factory: factory)
    }

    static let help: [String: String] = [
        "qunbo_webhook_backlog":
            "Webhooks owed by the logs this node is primary of, per destination (refreshed each second).",
        "qunbo_webhook_attempts_total": "Webhook delivery attempts, by result (ok, failed, timeout).",
        "qunbo_webhook_dropped_total": "Webhooks given up 24 h after their event without a 2xx (logged with their id).",
        "qunbo_webhook_delivery_seconds": "From the causing event's decision to the receiver's 2xx, retries included.",
    ]
}

/// One `--webhook-url`: the URL, its cursor key, and the label metrics show (scheme, host, port
/// and path: a query string may carry a receiver's token and stays out of metrics).
struct WebhookDestinationConfig: Sendable, Hashable {
    var url: String
    var key: UInt64
    var label: String

    init(url: String) {
        self.url = url
        self.key = WebhookDestination.key(url)
        self.label = String(url.prefix { $0 != "?" && $0 != "#" })
    }
}
