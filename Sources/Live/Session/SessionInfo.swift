/// The identity and lifetime of one live session (the fields of the API's session object that
/// the log determines; `viewers`, `primary` and `replicas` come from elsewhere).
public struct SessionInfo: Codable, Sendable, Equatable {
    /// The session id (replays are addressed by it); given by whoever creates the log.
    public var id: String
    /// The group id.
    public var group: String
    /// The user who started the session; empty until `started` is applied.
    public var host: String
    public var title: String
    /// Whether the session is recorded for replay.
    public var record: Bool
    /// The session's epoch, given at creation by the replication layer (it is not in the log).
    public var epoch: UInt64
    /// Milliseconds since the Unix epoch of the `started` event; 0 until then.
    public var startedAt: Int64
    /// Milliseconds since the Unix epoch of the `ended` event; nil while not ended.
    public var endedAt: Int64?
    /// A share pointer (转化多群): this session only stands, in its group, for the live it was
    /// shared from, `"<group>/<session>"`. It holds no media and no events of its own; it is kept
    /// durably at its group's place on the ring so the share is found from there.
    public var sharedFrom: String?

    public init(
        id: String,
        group: String,
        host: String = "",
        title: String = "",
        record: Bool = false,
        epoch: UInt64,
        startedAt: Int64 = 0,
        endedAt: Int64? = nil
    ) {
        self.id = id
        self.group = group
        self.host = host
        self.title = title
        self.record = record
        self.epoch = epoch
        self.startedAt = startedAt
        self.endedAt = endedAt
    }
}

/// Where a session is in its life.
public enum LivePhase: String, Codable, Sendable {
    /// Created, `started` not yet applied (lastSeq 0). Never shown by the API: a session becomes
    /// visible with its `started` event. Only `start` is accepted.
    case pending
    case live
    case ended
}
