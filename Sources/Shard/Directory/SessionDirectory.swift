/// The placement and lifecycle policy of every session copy one node holds: which copies it
/// serves, when a copy campaigns, settles or retires, how a primary keeps its replica set whole,
/// when a live without ingest ends, and whether a lookup that found nothing is certain.
///
/// A pure value in the style of `SessionReplica`: the shell feeds it events (a view change, a
/// copy's new status, a removal notice, ingest start and stop, a tick) with the current time, and
/// executes the `DirectoryDirective`s it returns. It never reads a clock, never awaits and owns no
/// replication core, so the replication simulation runs it next to the cores it steers, and every
/// rule the chaos runs broke before is a rule here with a test.
///
/// It schedules its own timer (`.scheduleTick`): maintenance rounds while some primary is here,
/// ingest-grace and settle deadlines; with nothing to do it asks for no tick at all.
public struct SessionDirectory: Sendable {
    /// One copy held here and what the directory knows of it beyond its status.
    struct Record: Sendable, Hashable {
        var copy: DirectoryCopy
        /// A copy restored from disk serves only once a primary of its session confirmed it (it
        /// heard a commit, or became primary): a node removed from the set while it was down must
        /// not serve a stale log.
        var confirmed: Bool
        /// Settled: the directive went out; the copy's timers are stopped for good.
        var settled = false
        var ingesting = false
        /// Since when the ingest has been away (restart, failover or the body ended).
        var ingestAwaySince: ReplicationTime?
        /// When the commit point last moved: a primary of an ended session settles only a linger
        /// after it, once its replicas have surely heard the final commit point.
        var commitMovedAt: ReplicationTime
    }

    public let me: String
    public let settings: DirectorySettings
    public private(set) var view: DirectoryView
    var records: [String: Record] = [:]
    /// The copy each group is served by here.
    public private(set) var served: [String: String] = [:]
    var nextMaintenance: ReplicationTime
    /// The tick last asked for, so an unchanged deadline is not asked for again.
    var scheduled: ReplicationTime?

    public init(me: String, settings: DirectorySettings = DirectorySettings(), now: ReplicationTime) {
        self.me = me
        self.settings = settings
        self.view = .alone(me)
        self.nextMaintenance = now + settings.maintenanceInterval
    }

    // MARK: Queries

    /// The copy of `session` held here.
    public func copy(_ session: String) -> DirectoryCopy? { records[session]?.copy }

    /// Every copy held here, by session id.
    public var copies: [DirectoryCopy] { records.values.map(\.copy).sorted { $0.session < $1.session } }

    /// The copy that answers for `group` here: the live, confirmed one.
    public func servedCopy(group: String) -> DirectoryCopy? {
        served[group].flatMap { records[$0]?.copy }
    }

    /// A live copy of `group` held here that no primary has confirmed yet: proof the session
    /// exists while its primary is unknown (a lookup answers it, with no primary).
    public func unconfirmedCopy(group: String) -> DirectoryCopy? {
        records.values.filter { $0.copy.group == group && $0.copy.phase == .live && !$0.confirmed }
            .map(\.copy).max { $0.session < $1.session }
    }

    /// Whether `session`'s replication timers run: not once it settled.
    public func timersRun(_ session: String) -> Bool {
        guard let record = records[session] else { return false }
        return !record.settled
    }

    /// Whether `session` is settled here (ended, committed, and its primary done telling).
    public func isSettled(_ session: String) -> Bool { records[session]?.settled ?? false }

    // MARK: Copies coming and going

    /// This node starts `copy` as primary of epoch 1: served once its `started` commits.
    /// Its ingest grace does not run before a first ingest: a host may start the live well before
    /// the encoder connects.
    public mutating func started(_ copy: DirectoryCopy, now: ReplicationTime) -> [DirectoryDirective] {
        records[copy.session] = Record(copy: copy, confirmed: true, ingestAwaySince: nil, commitMovedAt: now)
        return changed(copy.session, now: now)
    }

    /// A primary shipped a session this node does not hold: it is a new replica of it (or, with a
    /// log on disk, an old one added back). Being shipped to is the confirmation.
    public mutating func adopted(_ copy: DirectoryCopy, now: ReplicationTime) -> [DirectoryDirective] {
        records[copy.session] = Record(copy: copy, confirmed: true, ingestAwaySince: nil, commitMovedAt: now)
        return changed(copy.session, now: now)
    }

    /// Whether a copy found on disk at start-up is loaded: not one marked removed (it is nobody's
    /// replica, and listing it broke convergence in a rolling restart).
    public static func loadsFromDisk(markedRemoved: Bool) -> Bool { !markedRemoved }

    /// A copy loaded from disk at start-up. A settled one stays settled (its commit point was
    /// stored with the mark); a live one waits for its primary's confirmation, and campaigns at
    /// once only when it is its set's only member (nobody else can lead it). Its ingest grace
    /// counts from the restart.
    public mutating func restored(_ copy: DirectoryCopy, now: ReplicationTime) -> [DirectoryDirective] {
        var record = Record(copy: copy, confirmed: false, ingestAwaySince: now, commitMovedAt: now)
        var directives: [DirectoryDirective] = []
        if copy.phase == .settled, copy.commitSeq == copy.lastSeq, !copy.outboxPending {
            record.settled = true
            record.confirmed = true
            directives.append(.settle(session: copy.session))
        } else if copy.members == [me] {
            directives.append(.campaign(session: copy.session))
        }
        records[copy.session] = record
        return directives + changed(copy.session, now: now)
    }

    /// A start that lost its race, or a copy the shell could not keep: forget it.
    public mutating func dropped(_ session: String) -> [DirectoryDirective] {
        guard let record = records.removeValue(forKey: session) else { return [] }
        return unserveIfServed(record.copy)
    }

    /// A primary removed this node from `session`'s replica set at `epoch`. A primary ignores it
    /// (Raft removes a primary only after it handed over), and so does a copy that already follows
    /// a later epoch: the notice comes from an older primary, and the newer one may have added
    /// this node back and count on what it acknowledged.
    public mutating func removalNotice(session: String, epoch: UInt64) -> [DirectoryDirective] {
        guard let record = records[session], record.copy.role != .primary, epoch >= record.copy.epoch else {
            return []
        }
        records[session] = nil
        return unserveIfServed(record.copy) + [.retire(session: session, removedAtEpoch: epoch)]
    }

    // MARK: Status

    /// The shell's latest status of a copy (after any change of role, epoch, members, commit
    /// point or phase). `confirmed` is set once a primary confirmed a restored copy.
    public mutating func update(
        _ copy: DirectoryCopy,
        confirmed: Bool = false,
        now: ReplicationTime
    )
        -> [DirectoryDirective]
    {
        guard var record = records[copy.session] else { return [] }
        let before = record.copy
        if copy.commitSeq != before.commitSeq { record.commitMovedAt = now }
        record.copy = copy
        if confirmed { record.confirmed = true }
        // A settled copy woken by a later epoch (a lagging member's election) runs its timers
        // again until it has heard the new commit point.
        var woken: [DirectoryDirective] = []
        if record.settled, copy.commitSeq < copy.lastSeq || copy.role == .primary && copy.epoch > before.epoch {
            record.settled = false
            // As a new primary it lingers again from its election before it settles.
            record.commitMovedAt = now
            woken.append(.wake(session: copy.session))
        }
        // A new primary counts the ingest grace from its election: a broadcaster that never comes
        // back after a failover still ends the live.
        if copy.role == .primary, before.role != .primary || copy.epoch != before.epoch, !record.ingesting {
            record.ingestAwaySince = now
        }
        records[copy.session] = record
        return woken + changed(copy.session, now: now)
    }

    /// The broadcaster's ingest reached this copy (its primary).
    public mutating func ingestStarted(session: String) {
        records[session]?.ingesting = true
        records[session]?.ingestAwaySince = nil
    }

    /// The ingest's body ended or broke.
    public mutating func ingestStopped(session: String, now: ReplicationTime) -> [DirectoryDirective] {
        guard records[session] != nil else { return [] }
        records[session]!.ingesting = false
        records[session]!.ingestAwaySince = now
        return schedule(now: now)
    }

    /// What follows from a copy's status: serving, settling.
    mutating func changed(_ session: String, now: ReplicationTime) -> [DirectoryDirective] {
        guard var record = records[session] else { return [] }
        var directives: [DirectoryDirective] = []
        let copy = record.copy
        if copy.phase == .live, record.confirmed {
            if let current = served[copy.group], current != session {
                // The newer session of a group wins (ids sort by start time): an older copy is
                // left over from a session that ended while this node was away.
                if current < session {
                    directives.append(.unserve(group: copy.group, session: current))
                    served[copy.group] = session
                    directives.append(.serve(group: copy.group, session: session))
                }
            } else if served[copy.group] == nil {
                served[copy.group] = session
                directives.append(.serve(group: copy.group, session: session))
            }
        } else if copy.phase != .live {
            directives += unserveIfServed(copy)
        }
        if !record.settled, shouldSettle(record, now: now) {
            record.settled = true
            records[session] = record
            directives.append(.settle(session: session))
        }
        return directives + schedule(now: now)
    }

    /// An ended copy settles once it knows its `ended` event committed and there is nothing left
    /// to learn: a replica when its commit point is its whole log; a primary when, besides, every
    /// member holds the whole log and a linger has passed since the last commit, so the replicas
    /// heard the final commit point. (Settling at once, a primary elected by a replica that lacked
    /// the commit point left it lacking the next one too: it campaigned again, every half second
    /// for minutes.)
    func shouldSettle(_ record: Record, now: ReplicationTime) -> Bool {
        let copy = record.copy
        guard copy.phase == .settled, copy.commitSeq == copy.lastSeq, !copy.outboxPending else { return false }
        guard copy.role == .primary else { return copy.role == .replica }
        // Members gossip no longer holds present (dead, left) cannot catch up: they do not hold
        // the primary back.
        let present = view.present
        let caughtUp = copy.lag.allSatisfy { $0.value == 0 || !present.contains($0.key) }
        return caughtUp && now >= record.commitMovedAt + settings.settleLinger
    }

    private mutating func unserveIfServed(_ copy: DirectoryCopy) -> [DirectoryDirective] {
        guard served[copy.group] == copy.session else { return [] }
        served[copy.group] = nil
        return [.unserve(group: copy.group, session: copy.session)]
    }

    // MARK: Membership

    /// Gossip's view changed: copies whose primary is no longer alive campaign (settled ones
    /// never do: nothing can change in them).
    public mutating func viewChanged(_ view: DirectoryView, now: ReplicationTime) -> [DirectoryDirective] {
        self.view = view
        let lost = view.lost
        var directives: [DirectoryDirective] = []
        for session in records.keys.sorted() {
            let record = records[session]!
            guard !record.settled, record.copy.role != .primary, let primary = record.copy.primary,
                lost.contains(primary)
            else { continue }
            directives.append(.campaign(session: session))
        }
        return directives
    }

    // MARK: Timers

    /// Timers: replica-set maintenance of the primaries here, the ingest grace, settling.
    public mutating func tick(now: ReplicationTime) -> [DirectoryDirective] {
        scheduled = nil
        var directives: [DirectoryDirective] = []
        let maintain = now >= nextMaintenance
        if maintain { nextMaintenance = now + settings.maintenanceInterval }
        for session in records.keys.sorted() {
            guard var record = records[session], !record.settled else { continue }
            let copy = record.copy
            if copy.role == .primary, copy.phase == .live, !copy.permanent, !record.ingesting,
                let away = record.ingestAwaySince, now >= away + settings.ingestGrace
            {
                // Asked once per grace period: a refused end (a failover under way) is asked again.
                record.ingestAwaySince = now
                records[session] = record
                directives.append(.end(session: session))
            }
            if maintain, copy.role == .primary, copy.phase == .live,
                let change = Self.replicaSetChange(copy, me: me, view: view, settings: settings)
            {
                directives.append(change)
            }
            if shouldSettle(record, now: now) {
                records[session]!.settled = true
                directives.append(.settle(session: session))
            }
        }
        return directives + schedule(now: now)
    }

    /// The next time anything here is due, asked for when it differs from the one asked last.
    mutating func schedule(now: ReplicationTime) -> [DirectoryDirective] {
        var next: ReplicationTime?
        func consider(_ time: ReplicationTime) { next = min(next ?? time, time) }
        for record in records.values where !record.settled {
            let copy = record.copy
            guard copy.role == .primary else { continue }
            if copy.phase == .live {
                consider(nextMaintenance)
                if !record.ingesting, !copy.permanent, let away = record.ingestAwaySince {
                    consider(away + settings.ingestGrace)
                }
            }
            if copy.phase == .settled {
                // The linger's end, or, past it (a replica still catching up), the next round:
                // never `now`, which would spin.
                let lingerEnds = record.commitMovedAt + settings.settleLinger
                consider(lingerEnds > now ? lingerEnds : now + settings.maintenanceInterval)
            }
        }
        guard let next, next != scheduled else { return [] }
        scheduled = next
        return [.scheduleTick(at: next)]
    }
}
