import Live

/// Settings of live sessions on this node.
public struct LiveSettings: Sendable {
    /// Domain rules and rate limits (text length, tip ceiling, buckets); see `LiveSessionSettings`.
    public var session = LiveSessionSettings()
    /// Keyword filter for comments and questions (config `keyword-filter`). Default empty.
    public var filter = LiveKeywordFilter(words: [])
    /// HLS target segment duration, seconds. Default 2 s: low latency with few requests.
    public var hlsTargetDuration: Double = 2
    /// Segments in the live playlist window. Default 6 (12 s at the default target).
    public var hlsWindow = 6
    /// How far an event viewer may fall behind before it is disconnected (it resumes with
    /// Last-Event-ID and misses nothing). Default 4 MiB, ~20k events.
    public var eventQueueBytes = 4 << 20
    /// How far a stream.ts viewer may fall behind before it skips to the next keyframe.
    /// Default 1 MiB: about 4 s of a 2 Mb/s stream, so a viewer stays within seconds of live.
    public var mediaQueueBytes = 1 << 20
    /// `: ping` comment interval on event streams. Default 15 s (API.md).
    public var pingInterval: Duration = .seconds(15)
    /// A session stays live this long after its ingest ends (`--ingest-grace`). Default 30 s.
    public var ingestGrace: Duration = .seconds(30)
    /// A write not committed within this long is answered 503 `no_quorum` (its outcome is
    /// unknown: retry with the same `id`) instead of waiting for ever (`--commit-timeout`).
    /// Default 10 s: far above a failover (sub-second) and any healthy commit.
    public var commitTimeout: Duration = .seconds(10)
    /// A new replica (learner) whose log has not advanced for this long while behind is removed,
    /// and the replica count restored afresh. Default 10 s: catching up moves hundreds of
    /// entries a second, so a learner this still is stuck, not slow.
    public var learnerStall: Duration = .seconds(10)
    /// Event and media streams one user may hold on one session at this node
    /// (`--max-viewers-per-user`). Default 8.
    public var maxViewersPerUser = 8
    /// Recorded bytes per session (`--max-recording-bytes`); past it recording stops and the
    /// live goes on. Default 4 GiB.
    public var maxRecordingBytes: Int64 = 4 << 30
    /// Segment bytes waiting for the disk, per recording; a disk that falls this far behind
    /// stops the recording (logged) rather than growing memory. Default 64 MiB: half a minute
    /// of a 20 Mbit/s stream.
    public var recordingQueueBytes: Int64 = 64 << 20
    /// Webhook destinations (`--webhook-url`), by cursor key (`WebhookDestination.key`): every
    /// session derives its outbox for these. Default none: no outbox, no cost.
    public var webhookDestinations: [UInt64] = []
    /// Media gathers this long before it goes to a `stream.ts` or `stream.mp4` viewer as one
    /// write (`--media-batch`). Default 200 ms (`NodeConfig.mediaBatch` says why).
    public var mediaBatch: Duration = .milliseconds(200)

    public init() {}
}
