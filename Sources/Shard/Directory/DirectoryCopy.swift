/// Where a session copy is in its life, as the directory tracks it.
public enum CopyPhase: String, Sendable, Hashable, Codable {
    /// Created by a start here; the `started` event is not committed yet. Not served.
    case starting
    /// Live: its `started` event is in the log and no `ended` event is.
    case live
    /// The `ended` event is in this copy's log but not known committed here: the copy still
    /// takes part in replication until it learns the commit.
    case ending
    /// The `ended` event is committed here: nothing can change any more. The copy never ticks,
    /// heartbeats or campaigns again; it is kept for replay.
    case settled
}

/// What the shell reports of one copy of a session held by this node: the replication core's
/// view of its replica set and the domain's phase. The directory decides from these, never from
/// the cores themselves, so it stays a value the simulation can hold next to them.
public struct DirectoryCopy: Sendable, Hashable {
    public var group: String
    public var session: String
    public var phase: CopyPhase
    public var role: ReplicaRole
    public var epoch: UInt64
    /// The primary of `epoch` as this copy knows it (itself when primary).
    public var primary: String?
    /// Voting members, this node included when it is one.
    public var members: [String]
    /// Primary only: replicas being caught up before they vote.
    public var learners: [String]
    /// Primary only: entries each other replica is behind.
    public var lag: [String: UInt64]
    /// Primary only: learners whose log has not advanced for the stall period while behind.
    public var stalledLearners: [String]
    /// Log positions here.
    public var lastSeq: UInt64
    public var commitSeq: UInt64
    /// A group's own log (issue 16): never ended for want of an ingest (it has none).
    public var permanent: Bool
    /// Webhooks this copy's log still owes a destination (`WebhookOutbox.pending`): an ended
    /// copy does not settle while it does, so whichever copy is primary keeps sending them, also
    /// after a failover.
    public var outboxPending: Bool

    public init(
        group: String,
        session: String,
        phase: CopyPhase,
        role: ReplicaRole,
        epoch: UInt64,
        primary: String?,
        members: [String],
        learners: [String] = [],
        lag: [String: UInt64] = [:],
        stalledLearners: [String] = [],
        lastSeq: UInt64 = 0,
        commitSeq: UInt64 = 0,
        permanent: Bool = false,
        outboxPending: Bool = false
    ) {
        self.group = group
        self.session = session
        self.phase = phase
        self.role = role
        self.epoch = epoch
        self.primary = primary
        self.members = members
        self.learners = learners
        self.lag = lag
        self.stalledLearners = stalledLearners
        self.lastSeq = lastSeq
        self.commitSeq = commitSeq
        self.permanent = permanent
        self.outboxPending = outboxPending
    }
}
