/// What the shell must do after a call into `SessionDirectory`, in the order given.
public enum DirectoryDirective: Sendable, Hashable {
    /// Primary of `session`: add `node` as a learner (the replication core promotes it once it
    /// has caught up). The shell calls `addMember`; a refusal is harmless (next round retries).
    case addReplica(session: String, node: String)
    /// Primary of `session`: remove `node` from the replica set and send it a removal notice
    /// (`notify`) so it stops serving its copy.
    case removeReplica(session: String, node: String, reason: RemovalReason)
    /// The copy's primary is lost (gossip no longer holds it alive, or this node restarted
    /// alone): campaign soon.
    case campaign(session: String)
    /// Lookups and routes of `group` are answered by this copy from now on.
    case serve(group: String, session: String)
    /// This copy no longer answers for `group` (ended, retired).
    case unserve(group: String, session: String)
    /// The copy's `ended` event is committed here: stop its replication timers for good, close
    /// its ingest and recording, keep a summary for replays.
    case settle(session: String)
    /// A settled copy was woken by a later epoch (a lagging member's election): run its timers
    /// again until it has heard the new commit point.
    case wake(session: String)
    /// Removed from the replica set by a primary of `epoch`: stop replicating, close viewers,
    /// mark the copy removed on disk (a restart does not load it), drop it from memory.
    case retire(session: String, removedAtEpoch: UInt64)
    /// Primary of a live session whose ingest stayed away past the grace period: end it.
    case end(session: String)
    /// Call `tick` again at this time (the directory's next timer).
    case scheduleTick(at: ReplicationTime)

    /// Why a primary removes a replica.
    public enum RemovalReason: String, Sendable, Hashable {
        /// Dead, left or draining.
        case lost
        /// A learner that made no progress for the stall period: started again afresh.
        case stalled
        /// A learner whose node is gone before it caught up.
        case staleLearner
        /// Moving the set toward its placement after a node joined.
        case rebalance
    }
}

/// A lookup's verdict for a group with no copy found.
public enum LookupVerdict: Sendable, Hashable {
    /// Every place the group's copies may be has answered "none": there is no live session (404).
    case certainlyNone
    /// Some place did not answer, or this node cannot tell (not joined, cut off): retry (503).
    case uncertain
}
