/// What the shell must do after a call into `SessionReplica`, in the order given.
///
/// Ordering contract: a `.persistVote` must be durable before any later `.send` of the same batch
/// leaves the node (Raft persists the term and vote before answering). `.persist` and
/// `.installSnapshot` are written by one serial writer in order; after each one is durable the
/// shell calls `localDurable(upTo:)` with the seq named in the case's comment. Acks only go out
/// after that call, so sends need not wait for these writes.
public enum ReplicationDirective: Sendable, Hashable {
    case send(ReplicationMessage, to: String)
    /// Drop every stored entry after `truncateAfter` (when set), then append `entries`. When durable,
    /// call `localDurable(upTo: entries.last?.seq ?? truncateAfter!)`.
    case persist(entries: [ReplicationEntry], truncateAfter: UInt64?)
    /// Store the epoch and vote (before sending anything that follows).
    case persistVote(epoch: UInt64, votedFor: String?)
    /// Replace the session state with the snapshot and drop the whole stored log. When durable, call
    /// `localDurable(upTo: snapshot.seq)`. The commit point is `snapshot.seq` from then on; no
    /// `.committed` is issued for the entries it covers.
    case installSnapshot(ReplicationSnapshot)
    /// Primary: a newcomer would need a long log tail; take a snapshot and call `compact` soon.
    case needSnapshot
    /// Entries up to `upTo` are committed: acknowledge client writes up to it, publish to viewers.
    case committed(upTo: UInt64)
    case becamePrimary(epoch: UInt64)
    /// This node stopped being primary (or stopped campaigning as primary). Writes it accepted but
    /// that are not committed have an unknown outcome: they may yet commit under the new primary.
    case steppedDown(newPrimary: String?)
    /// Primary: the removal of `node` is committed (or `node` was a learner, which never voted):
    /// tell it, so it stops serving its copy. Never before the commit: a node that stops on an
    /// uncommitted removal can deny the votes an older configuration still needs, and leave the
    /// set with no primary for good (found by the replication simulation, seed 246).
    case notifyRemoved(node: String, epoch: UInt64)
}

/// Why a request to a replica was refused.
public enum ReplicationError: Error, Sendable, Hashable {
    /// Only the primary accepts writes and membership changes; `hint` is the primary if known.
    case notPrimary(hint: String?)
    /// A leadership transfer is under way; writes resume on the target (or here if it fails).
    case transferInProgress(target: String)
    /// A membership change is not yet committed; Raft allows one at a time.
    case configChangeInProgress
    /// The new primary has not yet committed an entry of its epoch (required before changes).
    case epochNotCommitted
    case alreadyMember(String)
    case unknownMember(String)
    /// Hand the primary role over first (`transferPrimary`), then remove the old primary.
    case cannotRemovePrimary
}
