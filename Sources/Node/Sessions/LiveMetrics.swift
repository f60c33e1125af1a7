import CoreMetrics

/// Metrics of the live sessions on this node.
final class LiveMetrics: Sendable {
    let sessions: Meter
    let eventViewers: Meter
    let mediaViewers: Meter
    let eventsLogged: Counter
    let eventDeliveries: Counter
    let ingestBytes: Counter
    let mediaBytesQueued: Counter
    let gopsSkipped: Counter
    let viewersDisconnected: Counter
    let writeLatency: Timer
    let commitTimeouts: Counter
    /// Edge relays (issue 17): relay copies held here, the upstream subscriptions they hold (one
    /// each, however many viewers), the relays this node's copies feed, and re-attachments.
    let relaySessions: Meter
    let relayUpstreams: Meter
    let relayDownstream: Meter
    let relayReattachments: Counter
    private let recordingsStoppedQuota: Counter
    private let recordingsStoppedQueue: Counter

    init(factory: any MetricsFactory) {
        sessions = Meter(label: "qunbo_live_sessions", factory: factory)
        eventViewers = Meter(label: "qunbo_live_viewers", dimensions: [("kind", "events")], factory: factory)
        mediaViewers = Meter(label: "qunbo_live_viewers", dimensions: [("kind", "media")], factory: factory)
        eventsLogged = Counter(label: "qunbo_live_events_logged_total", factory: factory)
        eventDeliveries = Counter(label: "qunbo_live_event_deliveries_total", factory: factory)
        ingestBytes = Counter(label: "qunbo_live_ingest_bytes_total", factory: factory)
        mediaBytesQueued = Counter(label: "qunbo_live_media_bytes_queued_total", factory: factory)
        gopsSkipped = Counter(label: "qunbo_live_gops_skipped_total", factory: factory)
        viewersDisconnected = Counter(label: "qunbo_live_slow_viewers_disconnected_total", factory: factory)
        writeLatency = Timer(label: "qunbo_live_write_durable_seconds", factory: factory)
        commitTimeouts = Counter(label: "qunbo_live_commit_timeouts_total", factory: factory)
        relaySessions = Meter(label: "qunbo_relay_sessions", factory: factory)
        relayUpstreams = Meter(label: "qunbo_relay_upstream_subscriptions", factory: factory)
        relayDownstream = Meter(label: "qunbo_relay_downstream", factory: factory)
        relayReattachments = Counter(label: "qunbo_relay_reattachments_total", factory: factory)
        recordingsStoppedQuota = Counter(
            label: "qunbo_live_recordings_stopped_total",
            dimensions: [("reason", "quota")],
            factory: factory
        )
        recordingsStoppedQueue = Counter(
            label: "qunbo_live_recordings_stopped_total",
            dimensions: [("reason", "queue")],
            factory: factory
        )
    }

    func recordingsStopped(_ reason: Recording.StopReason) {
        switch reason {
        case .quota: recordingsStoppedQuota.increment()
        case .queue: recordingsStoppedQueue.increment()
        }
    }

    static let help: [String: String] = [
        "qunbo_live_sessions": "Live sessions held by this node.",
        "qunbo_live_viewers": "Open viewer connections, by kind (events = SSE, media = stream.ts).",
        "qunbo_live_events_logged_total": "Session events made durable (comments, tips, questions, moderation, ...).",
        "qunbo_live_event_deliveries_total": "Event copies queued to event-stream viewers (one per viewer per event).",
        "qunbo_live_ingest_bytes_total": "MPEG-TS bytes received from broadcasters.",
        "qunbo_live_media_bytes_queued_total": "Media bytes queued to stream.ts viewers (one count per viewer).",
        "qunbo_live_gops_skipped_total": "Times a slow stream.ts viewer skipped to the next keyframe.",
        "qunbo_live_slow_viewers_disconnected_total": "Event viewers cut off for falling too far behind (they resume).",
        "qunbo_live_commit_timeouts_total":
            "Writes answered 503 because their entry was not committed within --commit-timeout.",
        "qunbo_live_recordings_stopped_total":
            "Recordings stopped before their session ended: quota (--max-recording-bytes) or queue (disk behind).",
        "qunbo_relay_sessions": "Sessions this node serves as an edge relay (no replica here; one upstream pull).",
        "qunbo_relay_upstream_subscriptions": "Upstream subscriptions held by this node's relay copies (one per copy).",
        "qunbo_relay_downstream": "Relays fed by this node's copies of sessions (replicas or relays).",
        "qunbo_relay_reattachments_total":
            "Times a relay copy moved to another upstream (its upstream died or went quiet).",
        "qunbo_live_write_durable_seconds":
            "Time from a write's arrival at the session to its durable acknowledgement.",
    ]
}
