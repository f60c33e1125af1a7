import Live
import Shard

/// What a `SessionHost` tells the node that holds it; all called on the host's actor, so they
/// must return quickly.
struct SessionHostHooks: Sendable {
    /// The replication clock (monotonic, shared by every session of the node).
    var now: @Sendable () -> ReplicationTime
    /// This node's scheduling-lag stretch of the replication timeouts (`SchedulingLag.stretch`).
    var timeoutStretch: @Sendable () -> Double = { 1 }
    /// The session's `ended` event committed: move it from live to ended.
    var ended: @Sendable (LiveSessionState) -> Void
    /// This node became primary (`true` when by failover, epoch > 1) or stopped being primary.
    var roleChange: @Sendable (_ failover: Bool) -> Void
    /// The primary started a replica-set change (add or remove).
    var replicaChange: @Sendable () -> Void
    /// What the session directory decides from changed (`confirmed`: a restored copy heard from
    /// a primary of its session, a commit, or became primary: it is a member, not a leftover of a
    /// replica set it was removed from while down).
    var statusChanged: @Sendable (_ copy: DirectoryCopy, _ confirmed: Bool) -> Void
    /// This copy, as primary, owes webhooks its dispatcher may not be sending yet (new committed
    /// entries, or it just became primary).
    var webhooksDue: @Sendable () -> Void = {}
    /// The broadcaster's ingest started (`true`) or stopped at this copy.
    var ingestChanged: @Sendable (_ active: Bool) -> Void
    /// Storage: whether the data dir is below `--min-free-disk`, and counters.
    var storage = SessionStorageHooks()
}

/// What a `SessionHost` asks and tells about the node's disk.
struct SessionStorageHooks: Sendable {
    /// Whether free space is below `--min-free-disk` (cheap: measured at most once a second).
    var diskLow: @Sendable () -> Bool = { false }
    /// A write or recording was refused for storage (counted).
    var refused: @Sendable () -> Void = {}
    /// The session's log failed a write or fsync (counted).
    var logFailed: @Sendable () -> Void = {}
    /// The session's log was found damaged at start and quarantined (counted).
    var quarantined: @Sendable () -> Void = {}
}
