/// The replication state machine of one session on one node: Raft with `epoch` as the term.
///
/// A pure value type: the shell feeds it messages, ticks, gossip news and disk completions, always
/// with the current time, and executes the `ReplicationDirective`s it returns (send, persist,
/// acknowledge). It never reads a clock or a system random source, so a simulation replays exactly.
///
/// Durability is explicit: entries are "on disk" only after the shell calls `localDurable(upTo:)`.
/// A replica acknowledges and a primary counts itself toward a majority only for durable entries,
/// so a committed (client-acknowledged) write is on the disks of a majority.
public struct SessionReplica: Sendable {
    /// What the shell keeps on disk besides the log, and gives back to `restore` after a restart.
    public struct PersistentState: Sendable, Hashable, Codable {
        public var epoch: UInt64
        public var votedFor: String?
        /// The last snapshot the shell stored (by `compact` or `.installSnapshot`); the log given to
        /// `restore` continues after its seq.
        public var snapshot: ReplicationSnapshot?

        public init(epoch: UInt64, votedFor: String?, snapshot: ReplicationSnapshot? = nil) {
            self.epoch = epoch
            self.votedFor = votedFor
            self.snapshot = snapshot
        }
    }

    /// The primary's view of one other replica.
    struct Progress: Sendable, Hashable {
        /// Next seq to send (optimistic: advanced as soon as entries are sent).
        var nextSeq: UInt64
        /// Highest seq the replica reported durable and matching this primary's log.
        var matchSeq: UInt64 = 0
        /// Last time any ack of this epoch arrived, for check-quorum.
        var lastAckAt: ReplicationTime
        /// Learners only: the commit point when it was added, which it must hold to become a voter.
        var catchUpTarget: UInt64 = 0
        /// When `matchSeq` last advanced (or the replica was added): how a stalled learner is told
        /// from a slow one.
        var advancedAt: ReplicationTime
    }

    /// A write handed to the shell's serial disk writer and not yet reported durable.
    struct PendingPersist: Sendable, Hashable {
        var truncateAfter: UInt64?
        var lastSeq: UInt64
    }

    /// An ack this replica sent: to whom (primary and epoch), for which point, when.
    struct SentAck: Sendable, Hashable {
        var epoch: UInt64
        var primary: String
        var matchSeq: UInt64
        var at: ReplicationTime
    }

    struct Transfer: Sendable, Hashable {
        var target: String
        var deadline: ReplicationTime
        var timeoutNowSent = false
    }

    public let session: String
    public let me: String
    public let settings: ReplicationSettings
    var random: ReplicationRandom

    public internal(set) var role: ReplicaRole = .replica
    public internal(set) var epoch: UInt64 = 0
    public internal(set) var votedFor: String?
    /// The primary of `epoch` as far as this node knows (itself when primary).
    public internal(set) var primary: String?
    public internal(set) var commitSeq: UInt64 = 0
    /// Voting members: from the latest config entry in the log (committed or not, Raft §4.1).
    public internal(set) var members: [String]
    /// The last snapshot given by `compact` or installed from the primary.
    public internal(set) var snapshot: ReplicationSnapshot?

    var log = ReplicationLog()
    /// Members as of the log's base (from the snapshot, or the initial list).
    var baseMembers: [String]
    /// Seq of the config entry `members` came from (the base seq when it came from the base).
    var configSeq: UInt64 = 0

    // Durability.
    var diskLastSeq: UInt64 = 0
    var pendingPersists: [PendingPersist] = []
    /// The shell's disk failed and has not recovered (`diskFailed`, `diskRecovered`).
    public internal(set) var storageFailed = false
    /// Set when the stored log lost entries (`lostEntriesOnDisk`): the copy abstains from
    /// elections until it holds a commit point of an epoch after this one.
    public internal(set) var abstainingAtOrBelow: UInt64?
    /// How much this node's own timers are late (Lifeguard's local health, for replication): the
    /// shell sets it from measured scheduling lag, `1` on a healthy node, at most
    /// `ReplicationSettings.maxTimeoutStretch`. Election timeouts, the stickiness window and
    /// check-quorum's window are multiplied by it: a node whose CPU is starved hears heartbeats
    /// late because *it* is late, and must not depose a primary (or step down) for that.
    /// Only timing changes, never a safety rule: it is a pure input like `now`.
    public var timeoutStretch: Double = 1 {
        didSet { timeoutStretch = min(max(timeoutStretch, 1), settings.maxTimeoutStretch) }
    }

    // Replica.
    /// Highest seq known to equal the current primary's log (reset when the epoch or primary changes).
    var primaryMatchSeq: UInt64 = 0
    var lastAckedSeq: UInt64 = 0
    /// The last ack sent, so an empty append that changes nothing is not answered twice in a row.
    var lastAck: SentAck?
    var lastHeardFromPrimary: ReplicationTime?
    var electionDeadline: ReplicationTime

    // Candidate.
    /// The pre-vote round asked before campaigning (`SessionReplica+PreVote.swift`); nil when none.
    var preVote: PreVote?
    var votes: Set<String> = []

    // Primary.
    var progress: [String: Progress] = [:]
    /// Replicas being caught up before they become voters, in the order they were added.
    public internal(set) var learners: [String] = []
    var nextHeartbeat: ReplicationTime = .zero
    var transfer: Transfer?
    /// Seq of this primary's first entry of its epoch; changes wait until it is committed.
    var firstSeqOfEpoch: UInt64 = 0
    /// Voters this primary removed, by the seq of the config entry that removed them: each is
    /// told once that entry commits (`.notifyRemoved`).
    var pendingRemovals: [PendingRemoval] = []

    struct PendingRemoval: Sendable, Hashable {
        var seq: UInt64
        var node: String
    }

    /// A replica that follows whoever is primary. `members` is the initial replica set (the log's
    /// config entries override it). `seed` feeds the election-timeout jitter.
    public init(
        session: String,
        me: String,
        members: [String],
        settings: ReplicationSettings = .lan,
        random seed: UInt64,
        now: ReplicationTime
    ) {
        self.session = session
        self.me = me
        self.settings = settings
        self.random = ReplicationRandom(seed: seed)
        self.members = members
        self.baseMembers = members
        self.electionDeadline = now
        resetElectionTimer(now: now)
    }

    /// The node that starts a session: primary of epoch 1 without an election, with the member list
    /// as the log's first entry. Exactly one node may do this per session (placement decides which).
    /// A replica with an empty log never campaigns, so nobody else can claim epoch 1.
    public static func bootstrapPrimary(
        session: String,
        me: String,
        members: [String],
        settings: ReplicationSettings = .lan,
        random seed: UInt64,
        now: ReplicationTime
    ) -> (replica: SessionReplica, directives: [ReplicationDirective]) {
        var replica = SessionReplica(
            session: session,
            me: me,
            members: members,
            settings: settings,
            random: seed,
            now: now
        )
        var directives: [ReplicationDirective] = []
        replica.epoch = 1
        replica.votedFor = me
        directives.append(.persistVote(epoch: 1, votedFor: me))
        replica.becomePrimary(now: now, into: &directives)
        return (replica, directives)
    }

    /// Restarts from what the shell had on disk: epoch, vote, snapshot, and the durable log after
    /// the snapshot. Everything else (commit point, role, primary) is relearned from the primary.
    public mutating func restore(from persisted: PersistentState, log entries: [ReplicationEntry], now: ReplicationTime)
    {
        epoch = persisted.epoch
        votedFor = persisted.votedFor
        role = .replica
        primary = nil
        snapshot = persisted.snapshot
        let base = persisted.snapshot?.seq ?? 0
        log = ReplicationLog(baseSeq: base, baseEpoch: persisted.snapshot?.epoch ?? 0)
        if let snapshotMembers = persisted.snapshot?.members { baseMembers = snapshotMembers }
        for entry in entries where entry.seq > base {
            guard entry.seq == log.lastSeq + 1 else { break }
            log.append(entry)
        }
        commitSeq = base
        diskLastSeq = log.lastSeq
        pendingPersists = []
        storageFailed = false
        abstainingAtOrBelow = nil
        primaryMatchSeq = 0
        lastAckedSeq = 0
        lastHeardFromPrimary = nil
        preVote = nil
        votes = []
        progress = [:]
        learners = []
        transfer = nil
        pendingRemovals = []
        recomputeMembers()
        resetElectionTimer(now: now)
    }

    // MARK: Queries

    public var lastSeq: UInt64 { log.lastSeq }
    public var lastEpoch: UInt64 { log.lastEpoch }

    /// The prefix of the current log that is on this node's disk.
    public var durableSeq: UInt64 {
        var durable = min(diskLastSeq, log.lastSeq)
        for pending in pendingPersists {
            if let truncateAfter = pending.truncateAfter { durable = min(durable, truncateAfter) }
        }
        return durable
    }

    /// The entries held in memory (after the snapshot), oldest first.
    public var entries: [ReplicationEntry] { log.entries }

    public func entry(at seq: UInt64) -> ReplicationEntry? { log.entry(at: seq) }

    public var persistentState: PersistentState {
        PersistentState(epoch: epoch, votedFor: votedFor, snapshot: snapshot)
    }

    /// Primary only: how many entries each other replica (voter or learner) is behind its log.
    public var lag: [String: UInt64] {
        guard role == .primary else { return [:] }
        var lag: [String: UInt64] = [:]
        for (id, progress) in progress { lag[id] = log.lastSeq - min(progress.matchSeq, log.lastSeq) }
        return lag
    }

    /// Primary only: learners whose durable log has not advanced for `stall` while behind: the
    /// shell removes them, and the replica count is restored afresh (a newcomer that never
    /// catches up must not leave the set one short for good).
    public func stalledLearners(now: ReplicationTime, stall: ReplicationDuration) -> [String] {
        guard role == .primary else { return [] }
        return learners.filter { id in
            guard let progress = progress[id] else { return false }
            return progress.matchSeq < log.lastSeq && now >= progress.advancedAt + stall
        }
    }

    /// Primary only: the target of a leadership transfer in progress.
    public var transferTarget: String? { transfer?.target }

    var quorum: Int { members.count / 2 + 1 }

    /// The replicas the primary ships entries to: other voters, then learners.
    var followers: [String] {
        members.filter { $0 != me } + learners.filter { !members.contains($0) }
    }

    // MARK: Shared helpers

    mutating func resetElectionTimer(now: ReplicationTime) {
        electionDeadline =
            now
            + random.duration(from: stretched(settings.electionTimeoutMin), to: stretched(settings.electionTimeoutMax))
    }

    /// `duration` times `timeoutStretch`.
    func stretched(_ duration: ReplicationDuration) -> ReplicationDuration {
        timeoutStretch == 1 ? duration : duration * timeoutStretch
    }

    func message(_ kind: ReplicationMessage.Kind) -> ReplicationMessage {
        ReplicationMessage(session: session, sender: me, epoch: epoch, kind: kind)
    }

    /// Members from the latest config entry in the log, else from the base.
    mutating func recomputeMembers() {
        if let config = log.config(atOrBefore: log.lastSeq) {
            members = config.members
            configSeq = config.seq
        } else {
            members = baseMembers
            configSeq = log.baseSeq
        }
    }

    /// Records a change of the in-memory log for the serial disk writer.
    mutating func persist(
        _ entries: [ReplicationEntry],
        truncateAfter: UInt64?,
        into directives: inout [ReplicationDirective]
    ) {
        pendingPersists.append(PendingPersist(truncateAfter: truncateAfter, lastSeq: log.lastSeq))
        directives.append(.persist(entries: entries, truncateAfter: truncateAfter))
    }

    /// Adopts `newEpoch` (when higher) and becomes a replica following `newPrimary` (nil: unknown).
    /// A primary or candidate reports `.steppedDown`; a primary's uncommitted tail is dropped later,
    /// by the new primary's append (§5.3), since it may yet be committed.
    mutating func follow(
        epoch newEpoch: UInt64,
        primary newPrimary: String?,
        now: ReplicationTime,
        into directives: inout [ReplicationDirective]
    ) {
        let wasLeading = role == .primary
        if newEpoch > epoch {
            epoch = newEpoch
            votedFor = nil
            preVote = nil
            directives.append(.persistVote(epoch: epoch, votedFor: nil))
            primaryMatchSeq = 0
            lastAckedSeq = 0
        }
        if role != .replica {
            if role == .primary { directives.append(.steppedDown(newPrimary: newPrimary)) }
            role = .replica
            // Whether those removals commit is the next primary's business now.
            pendingRemovals = []
            progress = [:]
            learners = []
            transfer = nil
            votes = []
        }
        if primary != newPrimary {
            primary = newPrimary
            primaryMatchSeq = 0
            lastAckedSeq = 0
        }
        // A primary is heard: whatever pre-votes were gathered are moot.
        if newPrimary != nil { preVote = nil }
        // Only a live primary (or our own step-down) restarts the election timer: merely adopting a
        // higher epoch must not, or a disruptive candidate could postpone every election forever.
        if newPrimary != nil || wasLeading { resetElectionTimer(now: now) }
    }

    // MARK: Entry points

    /// A message from another replica of this session.
    public mutating func receive(
        _ message: ReplicationMessage,
        from sender: String,
        now: ReplicationTime
    ) -> [ReplicationDirective] {
        guard message.session == session, sender != me else { return [] }
        var directives: [ReplicationDirective] = []
        switch message.kind {
        case .requestVote(let lastSeq, let lastEpoch, let transfer):
            handleRequestVote(
                message,
                lastSeq: lastSeq,
                lastEpoch: lastEpoch,
                transfer: transfer,
                from: sender,
                now: now,
                into: &directives
            )
        case .vote(let granted):
            if message.epoch > epoch {
                follow(epoch: message.epoch, primary: nil, now: now, into: &directives)
            } else {
                if granted { handleVote(from: sender, epoch: message.epoch, now: now, into: &directives) }
            }
        case .append(let prevSeq, let prevEpoch, let entries, let primaryCommit):
            handleAppend(
                message,
                prevSeq: prevSeq,
                prevEpoch: prevEpoch,
                entries: entries,
                primaryCommit: primaryCommit,
                from: sender,
                now: now,
                into: &directives
            )
        case .installSnapshot(let snapshot):
            handleInstallSnapshot(message, snapshot: snapshot, from: sender, now: now, into: &directives)
        case .appendAck(let success, let matchSeq, let lastSeq):
            if message.epoch > epoch {
                follow(epoch: message.epoch, primary: nil, now: now, into: &directives)
            } else if message.epoch == epoch {
                handleAck(
                    from: sender,
                    success: success,
                    matchSeq: matchSeq,
                    hint: lastSeq,
                    now: now,
                    into: &directives
                )
            }
        case .snapshotAck(let matchSeq):
            if message.epoch > epoch {
                follow(epoch: message.epoch, primary: nil, now: now, into: &directives)
            } else if message.epoch == epoch {
                handleAck(from: sender, success: true, matchSeq: matchSeq, hint: matchSeq, now: now, into: &directives)
            }
        case .timeoutNow:
            if message.epoch > epoch { follow(epoch: message.epoch, primary: sender, now: now, into: &directives) }
            // The primary asked for this election itself: no pre-vote round (Raft thesis §9.6).
            if message.epoch == epoch, role == .replica {
                startElection(now: now, transfer: true, into: &directives)
            }
        case .preVoteRequest(let lastSeq, let lastEpoch):
            handlePreVoteRequest(
                message,
                lastSeq: lastSeq,
                lastEpoch: lastEpoch,
                from: sender,
                now: now,
                into: &directives
            )
        case .preVote(let granted):
            handlePreVote(message, granted: granted, from: sender, now: now, into: &directives)
        }
        return directives
    }

    /// Timers: heartbeats, check-quorum and transfer deadline on the primary, the election timeout
    /// elsewhere. Call it at least every few milliseconds (a tenth of the heartbeat is plenty).
    /// The election timeout is this copy's own evidence that its primary is gone (no heartbeat for
    /// 300-600 ms: a dead, frozen or cut-off primary); it starts a pre-vote round, not an
    /// election, so a copy that was itself frozen or cut off cannot depose a primary the others
    /// still hear.
    public mutating func tick(now: ReplicationTime) -> [ReplicationDirective] {
        var directives: [ReplicationDirective] = []
        switch role {
        case .primary:
            primaryTick(now: now, into: &directives)
        case .replica, .candidate:
            if now >= electionDeadline, timeoutStretch > 1, hearsLivePrimary(now: now), let heard = lastHeardFromPrimary
            {
                // The deadline was drawn before this node knew it was late: measured from the
                // last word of the primary, the stretched timeout has not run out yet.
                electionDeadline =
                    heard
                    + random.duration(
                        from: stretched(settings.electionTimeoutMin),
                        to: stretched(settings.electionTimeoutMax)
                    )
            }
            if now >= electionDeadline { startPreVote(now: now, into: &directives) }
        }
        return directives
    }

    /// Gossip reports this session's primary suspected or dead: stop waiting for the fallback timeout
    /// and campaign after a short random delay (`primaryLostJitter`), through a pre-vote round like
    /// the timeout's. Also lifts the stickiness window and the primary's lease here, so this node
    /// grants pre-votes and votes to other candidates at once.
    public mutating func primaryLost(now: ReplicationTime) -> [ReplicationDirective] {
        guard role != .primary else { return [] }
        lastHeardFromPrimary = nil
        let deadline = now + random.duration(from: .zero, to: settings.primaryLostJitter)
        if deadline < electionDeadline { electionDeadline = deadline }
        return tick(now: now)
    }

    /// The shell's serial writer made the `.persist` or `.installSnapshot` ending at `seq` durable
    /// (and all earlier ones). Unknown values (from before a restart) are ignored.
    public mutating func localDurable(upTo seq: UInt64, now: ReplicationTime) -> [ReplicationDirective] {
        guard let index = pendingPersists.firstIndex(where: { $0.lastSeq == seq }) else { return [] }
        diskLastSeq = seq
        pendingPersists.removeFirst(index + 1)
        endAbstentionIfRepaired()
        var directives: [ReplicationDirective] = []
        switch role {
        case .primary:
            advanceCommit(into: &directives)
        case .replica:
            if primary != nil, min(primaryMatchSeq, durableSeq) > lastAckedSeq { sendAck(now: now, into: &directives) }
        case .candidate:
            break
        }
        return directives
    }

    /// The shell stored a snapshot of the session state up to `seq` (at most `commitSeq`): drop the
    /// log up to it, and ship the snapshot to replicas that need older entries.
    public mutating func compact(upTo seq: UInt64, snapshot data: [UInt8]) {
        guard seq > log.baseSeq, seq <= commitSeq, let epochAtSeq = log.epoch(at: seq) else { return }
        let membersAtSeq = log.config(atOrBefore: seq)?.members ?? baseMembers
        snapshot = ReplicationSnapshot(seq: seq, epoch: epochAtSeq, members: membersAtSeq, data: data)
        log.compact(upTo: seq)
        baseMembers = membersAtSeq
        if configSeq < seq { configSeq = seq }
    }
}
