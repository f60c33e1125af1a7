import CoreMetrics

/// Metrics of the RTMP ingest on this node.
final class RTMPMetrics: Sendable {
    /// Publishers streaming through this node now (to a primary here or elsewhere).
    let publishers: Meter

    private let publishes: [String: Counter]

    /// How a publish attempt can end: `accepted` (it streamed), `bad_key`, `busy` (another
    /// ingest is live), `not_live` (the key's session ended), `refused` (other refusals: limits,
    /// no primary), `protocol` (garbage or a broken handshake).
    static let results = ["accepted", "bad_key", "busy", "not_live", "refused", "protocol"]

    init(factory: any MetricsFactory) {
        publishers = Meter(label: "qunbo_rtmp_publishers", factory: factory)
        publishers.set(0)
        // Every series exists from the start, at zero, so rates and alerts see the first one.
        var publishes: [String: Counter] = [:]
        for result in Self.results {
            publishes[result] = Counter(
                label: "qunbo_rtmp_publishes_total",
                dimensions: [("result", result)],
                factory: factory
            )
        }
        self.publishes = publishes
    }

    func publish(_ result: String) {
        publishes[result]?.increment()
    }

    static let help: [String: String] = [
        "qunbo_rtmp_publishers": "RTMP publishers streaming through this node now.",
        "qunbo_rtmp_publishes_total":
            "RTMP publish attempts by result (accepted, bad_key, busy, not_live, refused, protocol).",
    ]
}
