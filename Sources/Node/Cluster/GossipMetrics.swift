import CoreMetrics
import Gossip

/// Gossip's metrics: members by state, probe and suspicion counts (deltas of the core's
/// counters), local health, probe round trips, dropped messages.
final class GossipMetrics: Sendable {
    private let membersByState: [MemberStatus: Gauge]
    private let localHealth: Gauge
    private let probeRTT: Timer
    private let counters: [String: Counter]
    private let dropped: [String: Counter]
    private let bytesSent: Counter
    private let bytesReceived: Counter

    init(factory: any MetricsFactory) {
        var byState: [MemberStatus: Gauge] = [:]
        for status in [MemberStatus.alive, .suspect, .dead, .left] {
            byState[status] = Gauge(
                label: "qunbo_gossip_members",
                dimensions: [("state", status.rawValue)],
                factory: factory
            )
        }
        membersByState = byState
        localHealth = Gauge(label: "qunbo_gossip_local_health", factory: factory)
        probeRTT = Timer(label: "qunbo_gossip_probe_rtt_seconds", factory: factory)
        var c: [String: Counter] = [:]
        for name in Self.counterNames {
            c[name] = Counter(label: "qunbo_gossip_\(name)_total", factory: factory)
        }
        counters = c
        var d: [String: Counter] = [:]
        for reason in ["unauthenticated", "malformed", "too_large"] {
            d[reason] = Counter(
                label: "qunbo_gossip_messages_dropped_total",
                dimensions: [("reason", reason)],
                factory: factory
            )
        }
        dropped = d
        bytesSent = Counter(label: "qunbo_gossip_bytes_sent_total", factory: factory)
        bytesReceived = Counter(label: "qunbo_gossip_bytes_received_total", factory: factory)
    }

    static let counterNames = [
        "probes", "probe_failures", "indirect_probes", "suspicions_raised", "suspicions_refuted",
        "self_refutations", "members_declared_dead", "messages_sent", "messages_received", "send_failures",
    ]

    /// Publishes the growth of the core's counters since `before`.
    func record(stats: GossipStats, since before: GossipStats, localHealth health: Int) {
        let pairs: [(String, Int)] = [
            ("probes", stats.probesSent - before.probesSent),
            ("probe_failures", stats.probesFailed - before.probesFailed),
            ("indirect_probes", stats.indirectProbesSent - before.indirectProbesSent),
            ("suspicions_raised", stats.suspicionsRaised - before.suspicionsRaised),
            ("suspicions_refuted", stats.suspicionsRefuted - before.suspicionsRefuted),
            ("self_refutations", stats.selfRefutations - before.selfRefutations),
            ("members_declared_dead", stats.membersDeclaredDead - before.membersDeclaredDead),
            ("messages_sent", stats.messagesSent - before.messagesSent),
            ("messages_received", stats.messagesReceived - before.messagesReceived),
            ("send_failures", stats.sendFailures - before.sendFailures),
        ]
        for (name, delta) in pairs where delta > 0 { counters[name]?.increment(by: Int64(delta)) }
        localHealth.record(health)
    }

    func members(_ members: [Member]) {
        for (status, gauge) in membersByState {
            gauge.record(members.filter { $0.status == status }.count)
        }
    }

    func probeRoundTrip(_ duration: Duration) { probeRTT.recordNanoseconds(duration.nanoseconds) }
    func dropped(_ reason: String) { dropped[reason]?.increment() }
    func sent(bytes: Int) { bytesSent.increment(by: Int64(bytes)) }
    func received(bytes: Int) { bytesReceived.increment(by: Int64(bytes)) }
}
