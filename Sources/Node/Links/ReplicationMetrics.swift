import CoreMetrics

/// Metrics of log shipping and failover on this node.
final class ReplicationMetrics: Sendable {
    private let factory: any MetricsFactory
    let batchesSent: Counter
    let rawBytesSent: Counter
    let wireBytesSent: Counter
    let mediaBytesRelayed: Counter
    let messagesReceived: Counter
    let messagesDropped: Counter
    let failovers: Counter
    let epochChanges: Counter
    let replicaChanges: Counter
    let writesForwarded: Counter
    let viewersRedirected: Counter
    let viewersProxied: Counter
    /// Ingests that went on at a new primary after theirs was lost mid-stream.
    let ingestsRerouted: Counter
    /// Viewers served by a relay copy here (issue 17).
    let viewersRelayed: Counter
    let primaries: Meter
    let replicas: Meter

    init(factory: any MetricsFactory) {
        self.factory = factory
        batchesSent = Counter(label: "qunbo_replication_batches_sent_total", factory: factory)
        rawBytesSent = Counter(
            label: "qunbo_replication_bytes_sent_total",
            dimensions: [("stage", "raw")],
            factory: factory
        )
        wireBytesSent = Counter(
            label: "qunbo_replication_bytes_sent_total",
            dimensions: [("stage", "wire")],
            factory: factory
        )
        mediaBytesRelayed = Counter(label: "qunbo_replication_media_bytes_relayed_total", factory: factory)
        messagesReceived = Counter(label: "qunbo_replication_messages_received_total", factory: factory)
        messagesDropped = Counter(label: "qunbo_replication_messages_dropped_total", factory: factory)
        failovers = Counter(label: "qunbo_replication_failovers_total", factory: factory)
        epochChanges = Counter(label: "qunbo_replication_epoch_changes_total", factory: factory)
        replicaChanges = Counter(label: "qunbo_replication_replica_changes_total", factory: factory)
        writesForwarded = Counter(label: "qunbo_route_writes_forwarded_total", factory: factory)
        viewersRedirected = Counter(label: "qunbo_route_viewers_redirected_total", factory: factory)
        viewersProxied = Counter(label: "qunbo_route_viewers_proxied_total", factory: factory)
        viewersRelayed = Counter(label: "qunbo_route_viewers_relayed_total", factory: factory)
        ingestsRerouted = Counter(label: "qunbo_route_ingests_rerouted_total", factory: factory)
        primaries = Meter(label: "qunbo_replication_sessions", dimensions: [("role", "primary")], factory: factory)
        replicas = Meter(label: "qunbo_replication_sessions", dimensions: [("role", "replica")], factory: factory)
    }

    /// Entries the replica `node` is behind, the worst over sessions this node leads.
    func lag(_ entries: UInt64, replica node: String) {
        Gauge(label: "qunbo_replication_lag_entries", dimensions: [("replica", node)], factory: factory)
            .record(Double(entries))
    }

    /// Bytes queued for `node` and not yet on the wire.
    func queued(_ bytes: Int, peer node: String) {
        Gauge(label: "qunbo_replication_queue_bytes", dimensions: [("peer", node)], factory: factory)
            .record(Double(bytes))
    }

    static let help: [String: String] = [
        "qunbo_replication_batches_sent_total": "Frames sent on node-to-node links (each a batch of messages).",
        "qunbo_replication_bytes_sent_total":
            "Bytes of replication and relay batches sent, before (raw) and after (wire) LZ4 compression.",
        "qunbo_replication_media_bytes_relayed_total":
            "MPEG-TS bytes queued for replicas (one copy per replica node; part of the batches' raw bytes).",
        "qunbo_replication_messages_received_total": "Messages received on node-to-node links.",
        "qunbo_replication_messages_dropped_total":
            "Link messages dropped: malformed, for unknown sessions, or over the queue limit.",
        "qunbo_replication_failovers_total": "Times this node became primary of a session by election (epoch > 1).",
        "qunbo_replication_epoch_changes_total": "Times a session held here changed primary or stepped down.",
        "qunbo_replication_replica_changes_total": "Replica-set changes started by this node as primary.",
        "qunbo_route_writes_forwarded_total": "Client writes this node forwarded to a session's primary.",
        "qunbo_route_viewers_redirected_total": "Viewer requests answered 307 to a replica.",
        "qunbo_route_viewers_proxied_total":
            "Viewer requests proxied from a replica by this node (one upstream stream each).",
        "qunbo_route_ingests_rerouted_total":
            "Broadcaster ingests that went on at a new primary after theirs was lost mid-stream (no reconnect).",
        "qunbo_route_viewers_relayed_total":
            "Viewers served from an edge-relay copy on this node (one upstream pull per session).",
        "qunbo_replication_sessions": "Sessions held by this node, by role.",
        "qunbo_replication_lag_entries": "Entries a replica is behind, worst over the sessions this node leads.",
        "qunbo_replication_queue_bytes": "Bytes queued on the link to a peer and not yet sent.",
    ]
}
