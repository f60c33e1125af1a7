/// A disk that fails, and a copy that lost part of its log: what the shell tells the core, and
/// what the core then refuses to do.
extension SessionReplica {
    /// What the shell writes to its log when its disk works again (`diskRecovered`): drop every
    /// stored entry after `truncateAfter`, then append `entries`, then call
    /// `localDurable(upTo: lastSeq)`. Not a `.persist` directive: these entries are already
    /// applied to the shell's state; only the file lacks them.
    public struct Rewrite: Sendable, Hashable {
        /// Set when the log's base (a snapshot installed or taken since) is past what was durable:
        /// store it first, replacing the whole stored log (the node's shell never compacts, so
        /// only the simulation sees one).
        public var snapshot: ReplicationSnapshot?
        public var entries: [ReplicationEntry]
        public var truncateAfter: UInt64
        public var lastSeq: UInt64

        public init(
            snapshot: ReplicationSnapshot? = nil,
            entries: [ReplicationEntry],
            truncateAfter: UInt64,
            lastSeq: UInt64
        ) {
            self.snapshot = snapshot
            self.entries = entries
            self.truncateAfter = truncateAfter
            self.lastSeq = lastSeq
        }
    }

    /// Whether this copy may grant votes and campaign: not while its disk fails (a vote it could
    /// not store could be cast twice after a restart), nor while it abstains after losing entries
    /// (`lostEntriesOnDisk`). A set of one or two members cannot do without any of its votes, so
    /// there a copy that lost entries votes anyway (those entries were on one other disk at best).
    var mayVote: Bool {
        if storageFailed { return false }
        if abstainingAtOrBelow != nil, members.count >= 3 { return false }
        return true
    }

    /// The shell's log writer failed (a write or fsync error, a full disk): the file was cut back
    /// to its last durable batch and takes nothing until it recovers. Nothing past `durableSeq` is
    /// on disk, and the core never acknowledges past it (the shell reports nothing durable until
    /// `diskRecovered`). A primary steps down, so a replica with a working disk can take over; a
    /// candidate stops campaigning. Until `diskRecovered` the copy neither votes nor campaigns,
    /// but it still follows a primary and keeps the entries it is sent in memory.
    public mutating func diskFailed(now: ReplicationTime) -> [ReplicationDirective] {
        storageFailed = true
        var directives: [ReplicationDirective] = []
        if role != .replica { follow(epoch: epoch, primary: nil, now: now, into: &directives) }
        return directives
    }

    /// The shell's log accepts writes again, holding exactly what was reported durable before the
    /// failure. Returns what to write so the file holds the whole in-memory log again; the
    /// pending writes that failed are forgotten (their `localDurable` will never come).
    public mutating func diskRecovered(now: ReplicationTime) -> Rewrite? {
        guard storageFailed else { return nil }
        storageFailed = false
        var durable = durableSeq
        var base: ReplicationSnapshot?
        if durable < log.baseSeq {
            base = snapshot
            durable = log.baseSeq
        }
        diskLastSeq = durable
        pendingPersists = [PendingPersist(truncateAfter: durable, lastSeq: log.lastSeq)]
        let entries = durable < log.lastSeq ? log.entries(from: durable + 1, limit: Int(log.lastSeq - durable)) : []
        resetElectionTimer(now: now)
        return Rewrite(snapshot: base, entries: entries, truncateAfter: durable, lastSeq: entries.last?.seq ?? durable)
    }

    /// Right after `restore`: the shell found the stored log damaged (a bad checksum, a gap) and
    /// kept only the valid prefix, so entries this copy acknowledged may be gone.
    ///
    /// Raft's safety rests on every voter keeping what it acknowledged: a committed entry is on a
    /// majority, and every election majority meets it. A copy that lost acknowledged entries and
    /// voted could elect a primary without them, and lose a committed write. So it abstains: no
    /// votes, no campaign, until it holds, durably, a commit point of an epoch later than any it
    /// knew before the loss. A primary of such an epoch was elected without this copy's vote, by
    /// voters that kept their logs, so it holds every entry committed before (Leader
    /// Completeness), and its committed entry of its own epoch comes after all of them: a copy
    /// that holds the log up to that commit point holds everything it could have acknowledged.
    ///
    /// The copy also moves to the next epoch at once (with no vote in it). The primary it knew,
    /// if still alive, is then deposed by its next answer, and an election among the other
    /// members makes the later epoch; otherwise a primary of the same epoch could go on for
    /// hours, and if it then died, the other members would wait for this copy's vote forever.
    /// Raising an epoch is always safe; it costs one election.
    ///
    /// The alternative, rejoining as a learner, needs a membership change decided by the primary
    /// (which may be the node that is gone); abstaining needs nobody's help.
    public mutating func lostEntriesOnDisk(now: ReplicationTime) -> [ReplicationDirective] {
        abstainingAtOrBelow = max(abstainingAtOrBelow ?? 0, epoch)
        epoch += 1
        votedFor = nil
        resetElectionTimer(now: now)
        return [.persistVote(epoch: epoch, votedFor: nil)]
    }

    /// Ends the abstention once the copy durably holds the log up to a commit point of an epoch
    /// after the loss (see `lostEntriesOnDisk`).
    mutating func endAbstentionIfRepaired() {
        guard let lost = abstainingAtOrBelow, commitSeq > 0, durableSeq >= commitSeq,
            let committedEpoch = log.epoch(at: commitSeq), committedEpoch > lost
        else { return }
        abstainingAtOrBelow = nil
    }
}
