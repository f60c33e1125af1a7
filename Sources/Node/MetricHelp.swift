/// `# HELP` text for every metric family the node exports.
///
/// Metrics are created through swift-metrics, whose API has no help text, so the exporter adds
/// it here. A family missing from this table has no HELP line, which `promtool check metrics`
/// flags: the process tests run promtool, so a new metric without documentation fails them.
enum MetricHelp {
    static let text: [String: String] = [
        "qunbo_http_requests_total": "HTTP requests served, by route pattern, method and status.",
        "qunbo_http_request_duration_seconds": "Time from request head to the end of the response, by route.",
        "qunbo_http_open_connections": "Client and peer connections open now, by protocol (http1, http2).",
        "qunbo_http_connections_total": "Connections accepted since start, by negotiated protocol.",
        "qunbo_http_refused_total":
            "Connections, streams and requests cut by a limit, by reason (see OPERATIONS.md, Limits).",
        "qunbo_gossip_members": "Members this node knows, by SWIM state (alive, suspect, dead, left).",
        "qunbo_gossip_local_health":
            "Lifeguard local health score (0 healthy .. 8); scales probe interval and timeout.",
        "qunbo_node_scheduling_lag_seconds":
            "Worst lateness over the last 3 s of each event loop's 100 ms timer and of a 1 s sleep in Swift's pool.",
        "qunbo_node_timeout_stretch":
            "Factor (1..8) this node's election, check-quorum and gossip timeouts are stretched by for its own lateness.",
        "qunbo_gossip_probe_rtt_seconds": "Round trip of direct probe requests to peers over HTTP/2.",
        "qunbo_gossip_probes_total": "Direct probes started.",
        "qunbo_gossip_probe_failures_total": "Probes that got neither a direct nor an indirect ack in time.",
        "qunbo_gossip_indirect_probes_total": "Indirect probe requests sent after a missed direct ack.",
        "qunbo_gossip_suspicions_raised_total": "Members this node put under suspicion.",
        "qunbo_gossip_suspicions_refuted_total": "Suspicions of other members that ended in a refutation.",
        "qunbo_gossip_self_refutations_total":
            "Times this node raised its incarnation to refute a suspicion of itself.",
        "qunbo_gossip_members_declared_dead_total": "Members this node declared dead after their suspicion expired.",
        "qunbo_gossip_messages_sent_total": "Gossip messages sent.",
        "qunbo_gossip_messages_received_total": "Gossip messages received and processed.",
        "qunbo_gossip_send_failures_total": "Gossip sends that failed (connection refused, broken or timed out).",
        "qunbo_gossip_messages_dropped_total": "Gossip messages dropped unprocessed, by reason.",
        "qunbo_gossip_bytes_sent_total": "Bytes of gossip frames sent (after LZ4).",
        "qunbo_gossip_bytes_received_total": "Bytes of gossip frames received (before LZ4).",
    ]

    static let all: [String: String] = text.merging(LiveMetrics.help) { a, _ in a }
        .merging(ReplicationMetrics.help) { a, _ in a }
        .merging(DiskSpace.help) { a, _ in a }
        .merging(PeerGate.help) { a, _ in a }
        .merging(RTMPMetrics.help) { a, _ in a }
        .merging(WebhookMetrics.help) { a, _ in a }

    /// Inserts a HELP line before each family's TYPE line.
    static func annotate(_ exposition: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(exposition.count + 2048)
        let typePrefix = Array("# TYPE ".utf8)
        var lineStart = 0
        for i in exposition.indices where exposition[i] == UInt8(ascii: "\n") {
            let line = exposition[lineStart...i]
            if line.starts(with: typePrefix) {
                let rest = line.dropFirst(typePrefix.count)
                if let space = rest.firstIndex(of: UInt8(ascii: " ")) {
                    let name = String(decoding: rest[rest.startIndex..<space], as: UTF8.self)
                    if let help = all[name] { out.append(contentsOf: Array("# HELP \(name) \(help)\n".utf8)) }
                }
            }
            out.append(contentsOf: line)
            lineStart = i + 1
        }
        out.append(contentsOf: exposition[lineStart...])
        return out
    }
}
