import Foundation
import Live
import Logging
import Metrics
import NIOCore
import Shard

/// One session held by this node as a member of its replica set: the replicated log (in memory
/// and on disk), the domain state derived from it, its media pipeline (demuxer, GOP cache, HLS
/// window, recording) and its viewers.
///
/// The `SessionReplica` core decides what is durable and committed; this actor executes its
/// directives. Every data entry is a `LiveEvent`, applied to the domain state as soon as it enters
/// the log (so the primary decides the next command against every event it has proposed), and
/// shown to viewers and acknowledged to writers only once committed, i.e. on the disks of a
/// majority. Event `seq`s count data entries only (config entries take log seqs too), so they stay
/// gap-free for viewers across failovers.
actor SessionHost {
    nonisolated let sessionID: String
    nonisolated let group: String
    nonisolated let nodeID: String
    let directory: String
    private var replica: SessionReplica
    /// Domain state after every event in the log, committed or not.
    var session: LiveSession
    private let store: ReplicaStore
    private let transport: any ReplicationTransport
    private let hooks: SessionHostHooks
    private let logger: Logger
    let settings: LiveSettings
    let metrics: LiveMetrics

    /// Every event in the log, index = event seq - 1; the log seq of each; its SSE rendering.
    private(set) var allEvents: [LiveEvent] = []
    private var eventLogSeqs: [UInt64] = []
    var rendered: [ByteBuffer] = []
    /// Events shown to viewers: the committed prefix.
    var publishedSeq: UInt64 = 0
    /// Writers waiting for their entry (by log seq) to commit.
    private var commitWaiters: [UInt64: [CheckedContinuation<Void, any Error>]] = [:]
    private var endedNotified = false
    /// Likes counted here as primary and not yet written to the log (`LiveLikesRecord`).
    private var pendingLikes: Int64 = 0
    /// Likes records in the log (log seq, count): a truncation rebuilds the state with them.
    private var likesRecords: [(logSeq: UInt64, count: Int64)] = []
    /// Log seqs of likes records proposed here: already in this node's state when they return.
    private var ownLikes: Set<UInt64> = []
    /// The directory settled this copy: its timers are stopped for good (until woken).
    private(set) var settled = false
    /// The one timer of the replication core (`SessionReplica.nextTimer`), armed on `timerLoop`.
    private var timer: Scheduled<Void>?
    private var timerAt: ReplicationTime?
    private let timerLoop: any EventLoop
    /// What the directory was last told of this copy.
    private var reported: DirectoryCopy?

    let eventFanout = FanoutGroup()
    /// Demuxer, GOP cache, HLS window, recording and `stream.ts` viewers.
    let media: MediaPipeline
    var mediaFanout: FanoutGroup { media.fanout }
    var nextViewerID: UInt64 = 0
    var statsDirty = false
    /// The event this primary just proposed, by log seq: applying its own entry needs no decode
    /// of the JSON it was just encoded to (5% of the primary's CPU at 1,000 writes/s).
    private var proposed: (logSeq: UInt64, event: LiveEvent)?
    var lastPing = ContinuousClock.now

    private(set) var ingestActive = false

    /// A session this node holds: a fresh primary (`bootstrap`), a restored one (`restore`), or a
    /// replica created when its primary first ships to it.
    enum Origin {
        case bootstrap(members: [String])
        case restore
        case replica
    }

    init(
        group: String,
        session id: String,
        nodeID: String,
        origin: Origin,
        directory: String,
        settings: LiveSettings,
        replication: ReplicationSettings,
        transport: any ReplicationTransport,
        hooks: SessionHostHooks,
        now: ReplicationTime,
        timerLoop: any EventLoop,
        metrics: LiveMetrics,
        logger: Logger
    ) throws(StorageError) {
        self.timerLoop = timerLoop
        self.metrics = metrics
        self.sessionID = id
        self.group = group
        self.nodeID = nodeID
        self.directory = directory
        self.settings = settings
        self.transport = transport
        self.hooks = hooks
        self.store = try ReplicaStore(directory: directory)
        var logger = logger
        logger[metadataKey: "live.session"] = "\(id)"
        logger[metadataKey: "live.group"] = "\(group)"
        self.logger = logger
        self.media = MediaPipeline(settings: settings, metrics: metrics)
        let fresh = LiveSessionState(id: id, group: group, epoch: 1)
        self.session = LiveSession(state: fresh, settings: settings.session, filter: settings.filter)
        var seed = SystemRandomNumberGenerator()
        var initial: [ReplicationDirective] = []
        switch origin {
        case .bootstrap(let members):
            (replica, initial) = SessionReplica.bootstrapPrimary(
                session: id,
                me: nodeID,
                members: members,
                settings: replication,
                random: seed.next(),
                now: now
            )
        case .replica, .restore:
            initial = []
            replica = SessionReplica(
                session: id,
                me: nodeID,
                members: [],
                settings: replication,
                random: seed.next(),
                now: now
            )
        }
        if case .restore = origin {
            let (persisted, entries) = try store.load()
            replica.restore(from: persisted, log: entries, now: now)
            // A settled copy's commit point was stored with the mark: shown again at once, with
            // no election to relearn it (an ended session never campaigns again).
            if let committed = ReplicaStore.settledCommit(in: directory) {
                initial = replica.restoreCommitted(upTo: committed)
                settled = true
            }
        }
        // A restored session counts its ingest grace from the restart.
        self.initial = initial
    }

    /// Directives of the bootstrap, run by `activate`.
    private var initial: [ReplicationDirective] = []

    /// Finishes construction on the actor: applies a restored log to the domain state and runs
    /// the bootstrap's first directives. Call once, right after `init`.
    func activate() throws(StorageError) {
        for entry in replica.entries { applyEntry(entry) }
        if !replica.entries.isEmpty, session.state.info.record {
            try media.record(in: directory + "/media")
        }
        let directives = initial
        initial = []
        execute(directives, now: hooks.now())
    }

    /// This copy as the session directory sees it.
    var copy: DirectoryCopy {
        let phase: CopyPhase =
            switch session.state.phase {
            case .pending: .starting
            case .live: .live
            case .ended: endedNotified ? .settled : .ending
            }
        return DirectoryCopy(
            group: group,
            session: sessionID,
            phase: phase,
            role: replica.role,
            epoch: replica.epoch,
            primary: replica.primary ?? lastKnownPrimary,
            members: replica.members,
            learners: replica.learners,
            lag: replica.lag,
            stalledLearners: replica.stalledLearners(now: hooks.now(), stall: stall),
            lastSeq: replica.lastSeq,
            commitSeq: replica.commitSeq
        )
    }

    private var stall: ReplicationDuration {
        .milliseconds(UInt64(settings.learnerStall.components.seconds * 1000))
    }

    /// Tells the directory when what it decides from changed (role, epoch, members, learners,
    /// phase, whether the log is all committed): not on every commit of a busy session.
    private func report(confirmed: Bool = false) {
        let now = copy
        if !confirmed, let reported, reported.role == now.role, reported.epoch == now.epoch,
            reported.primary == now.primary, reported.members == now.members, reported.learners == now.learners,
            reported.phase == now.phase, (reported.commitSeq == reported.lastSeq) == (now.commitSeq == now.lastSeq)
        {
            return
        }
        reported = now
        hooks.statusChanged(now, confirmed)
    }

    var state: LiveSessionState { session.state }
    /// Host, title, record: known once the `started` event is applied.
    var info: SessionInfo { session.state.info }
    /// Events visible to readers: the committed ones.
    var events: ArraySlice<LiveEvent> { allEvents[..<Int(publishedSeq)] }
    var role: ReplicaRole { replica.role }
    var primaryHint: String? { replica.primary }
    var members: [String] { replica.members }
    var epoch: UInt64 { replica.epoch }

    /// What `/admin/v1/sessions` shows.
    var summary: SessionSummary {
        SessionSummary(
            group: group,
            session: sessionID,
            role: replica.role,
            epoch: replica.epoch,
            primary: replica.primary,
            members: replica.members,
            lastSeq: replica.lastSeq,
            commitSeq: replica.commitSeq,
            lastEventSeq: UInt64(allEvents.count),
            publishedEventSeq: publishedSeq,
            lag: replica.lag,
            phase: session.state.phase
        )
    }


    // MARK: Writes

    /// What a write produced.
    enum WriteResult: Sendable {
        case logged(seq: UInt64)
        case likes(total: Int64)
    }

    /// Decides one command on the primary, replicates it, and returns once a majority has it on
    /// disk. Throws `LiveError` for refusals and `ReplicaRefusal` when this node cannot take it.
    func write(_ command: LiveCommand, by actor: LiveActor, now: Int64) async throws -> WriteResult {
        guard replica.role == .primary else { throw ReplicaRefusal.notPrimary(hint: replica.primary) }
        // The likes counted so far go into the log before the end, so the replay shows them all.
        if case .end = command { flushLikes() }
        let likesBefore = session.state.likes
        switch session.decide(command, by: actor, now: now) {
        case .failure(let error):
            throw error
        case .success(.likes(let total)):
            pendingLikes += total - likesBefore
            statsDirty = true
            return .likes(total: total)
        case .success(.duplicate(let seq)):
            let index = Int(seq) - 1
            if index < eventLogSeqs.count { try await waitCommitted(eventLogSeqs[index]) }
            return .logged(seq: seq)
        case .success(.append(let event)):
            let started = ContinuousClock.now
            let payload = LiveEventCodec.encode(event)
            let clock = hooks.now()
            switch replica.propose(payload, now: clock) {
            case .failure(.transferInProgress(let target)):
                throw ReplicaRefusal.notPrimary(hint: target)
            case .failure:
                throw ReplicaRefusal.notPrimary(hint: replica.primary)
            case .success(let (logSeq, directives)):
                proposed = (logSeq, event)
                execute(directives, now: clock)
                try await waitCommitted(logSeq)
            }
            metrics.writeLatency.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
            return .logged(seq: event.seq)
        }
    }

    private func waitCommitted(_ logSeq: UInt64) async throws {
        guard logSeq > replica.commitSeq else { return }
        try await withCheckedThrowingContinuation { commitWaiters[logSeq, default: []].append($0) }
    }

    /// Fails waiters for entries above `logSeq` (all when nil): their fate is unknown here.
    private func failWaiters(above logSeq: UInt64?, _ error: ReplicaRefusal) {
        for (seq, waiters) in commitWaiters where logSeq.map({ seq > $0 }) ?? true {
            waiters.forEach { $0.resume(throwing: error) }
            commitWaiters[seq] = nil
        }
    }

    // MARK: Replication

    /// A message from another replica of this session.
    func receive(_ message: ReplicationMessage, from sender: String) {
        let now = hooks.now()
        execute(replica.receive(message, from: sender, now: now), now: now)
    }

    /// The replication core's timer fired (armed by `rearm` for `SessionReplica.nextTimer`).
    private func timerFired() {
        timerAt = nil
        timer = nil
        guard !settled else { return }
        let now = hooks.now()
        execute(replica.tick(now: now), now: now)
    }

    /// Arms the one timer for the core's next deadline; none once settled. Called after every
    /// call into the core, so a deadline that moved earlier (a lost primary) is met.
    private func rearm() {
        guard !settled else {
            timer?.cancel()
            timer = nil
            timerAt = nil
            return
        }
        let next = replica.nextTimer
        guard next != timerAt else { return }
        timer?.cancel()
        timerAt = next
        let delay = next - hooks.now()
        timer = timerLoop.scheduleTask(in: .nanoseconds(Int64(min(delay.nanoseconds, UInt64(Int64.max))))) {
            [weak self] in
            guard let self else { return }
            Task { await self.timerFired() }
        }
    }

    /// The directory decided this copy's primary is lost: campaign soon.
    func campaign() {
        guard !settled, replica.role != .primary else { return }
        let now = hooks.now()
        execute(replica.primaryLost(now: now), now: now)
    }

    /// The directory settled this copy (ended, committed, and its primary done telling): stop the
    /// timers for good, close the media, and store the commit point so a restart shows the replay
    /// at once and never campaigns.
    func settle() {
        guard !settled else { return }
        settled = true
        rearm()
        ingestActive = false
        ReplicaStore.markSettled(in: directory, commitSeq: replica.commitSeq)
    }

    /// A settled copy was woken by a later epoch: its timers run until it settles again.
    func wake() {
        guard settled else { return }
        settled = false
        rearm()
    }

    /// Primary: carries out the directory's replica-set change (one at a time; a refusal by the
    /// core, e.g. a change still in progress, is retried at the next round).
    func changeReplicaSet(_ directive: DirectoryDirective) {
        let now = hooks.now()
        switch directive {
        case .addReplica(_, let node):
            guard case .success(let directives) = replica.addMember(node, now: now) else { return }
            logger.info("adding a replica", metadata: ["replication.member": "\(node)"])
            hooks.replicaChange()
            execute(directives, now: now)
        case .removeReplica(_, let node, let reason):
            let lag = replica.lag[node] ?? 0
            guard case .success(let directives) = replica.removeMember(node, now: now) else { return }
            logger.info(
                "removing a replica",
                metadata: [
                    "replication.member": "\(node)", "replication.reason": "\(reason.rawValue)",
                    "replication.lag": "\(lag)",
                ]
            )
            if reason != .staleLearner { hooks.replicaChange() }
            execute(directives, now: now)
            transport.sendRemoved(group: group, session: sessionID, epoch: replica.epoch, to: node)
        default:
            return
        }
    }

    /// Primary: hands the primary role to the most caught-up other member (drain). Returns the
    /// target, or nil when there is none or this node is not primary.
    func handOver(avoiding: Set<String>) -> String? {
        guard replica.role == .primary else { return nil }
        let lag = replica.lag
        let target = replica.members.filter { $0 != nodeID && !avoiding.contains($0) }
            .min { (lag[$0] ?? .max, $0) < (lag[$1] ?? .max, $1) }
        guard let target else { return nil }
        let now = hooks.now()
        guard case .success(let directives) = replica.transferPrimary(to: target, now: now) else { return nil }
        execute(directives, now: now)
        return target
    }

    /// Waits until recorded segments are on disk (after `end`, so the replay is complete).
    func flushRecording() async {
        let recording = media.currentRecording
        await recording?.flush()
    }

    private var confirmed = false

    private func confirm() {
        guard !confirmed else { return }
        confirmed = true
        report(confirmed: true)
    }

    /// Removed from the replica set (the directory checked the notice): stop replicating, close
    /// viewers (they resume on a replica). The log stays on disk: if this node is added back, it
    /// resumes from it.
    func retire() {
        for _ in eventFanout.finish() { metrics.eventViewers.decrement() }
        for _ in mediaFanout.finish() { metrics.mediaViewers.decrement() }
        discard()
    }

    /// A session that lost the race to start: stop its replication before it is dropped.
    func discard() {
        failWaiters(above: nil, .outcomeUnknown)
        replica = SessionReplica(session: sessionID, me: nodeID, members: [], random: 0, now: hooks.now())
        settled = true
        rearm()
    }

    /// Executes the core's directives in order (see `ReplicationDirective` for the contract).
    private func execute(_ directives: [ReplicationDirective], now: ReplicationTime) {
        for directive in directives {
            switch directive {
            case .send(let message, let node):
                transport.send(message, group: group, to: node)
            case .persist(let entries, let truncateAfter):
                persist(entries, truncateAfter: truncateAfter)
            case .persistVote(let epoch, let votedFor):
                do {
                    try store.writeVote(epoch: epoch, votedFor: votedFor)
                } catch {
                    // Without the vote on disk this node could vote twice after a restart: stop
                    // taking part rather than risk it.
                    logger.critical("cannot store the vote", metadata: ["error": "\(error)"])
                    return
                }
            case .installSnapshot, .needSnapshot:
                // Sessions are never compacted (logs are small), so no snapshot is ever shipped.
                logger.warning("snapshot directive ignored")
            case .committed(let upTo):
                publish(upTo: upTo)
                confirm()
            case .becamePrimary(let epoch):
                logger.notice("primary", metadata: ["replication.epoch": "\(epoch)"])
                confirm()
                lastKnownPrimary = nodeID
                hooks.roleChange(epoch > 1)
            case .steppedDown(let newPrimary):
                logger.notice(
                    "stepped down",
                    metadata: ["replication.epoch": "\(replica.epoch)", "replication.primary": "\(newPrimary ?? "?")"]
                )
                failWaiters(above: replica.commitSeq, .outcomeUnknown)
                // Likes never written to the log are lost with the role: take them back, so
                // this node shows what every other does.
                if pendingLikes > 0 {
                    session.addLikes(-pendingLikes)
                    pendingLikes = 0
                    statsDirty = true
                }
                hooks.roleChange(false)
            }
        }
        if let primary = replica.primary { lastKnownPrimary = primary }
        report()
        rearm()
    }

    /// The last primary this copy knew: the directory campaigns when gossip loses it, also after
    /// the core forgot it (a higher epoch with no primary yet).
    private var lastKnownPrimary: String?

    private func persist(_ entries: [ReplicationEntry], truncateAfter: UInt64?) {
        if let truncateAfter {
            // Only uncommitted events and likes can go: rebuild the domain state without them.
            let keep = eventLogSeqs.prefix { $0 <= truncateAfter }.count
            let keepLikes = likesRecords.prefix { $0.logSeq <= truncateAfter }.count
            if keep < allEvents.count || keepLikes < likesRecords.count {
                let kept = Array(allEvents.prefix(keep))
                var state = LiveSessionState(id: sessionID, group: group, epoch: 1)
                for event in kept { try? state.apply(event) }
                session = LiveSession(state: state, settings: settings.session, filter: settings.filter)
                likesRecords.removeLast(likesRecords.count - keepLikes)
                session.addLikes(likesRecords.reduce(0) { $0 + $1.count } + pendingLikes)
                ownLikes = ownLikes.filter { $0 <= truncateAfter }
                allEvents = kept
                eventLogSeqs.removeLast(eventLogSeqs.count - keep)
                rendered.removeLast(rendered.count - keep)
                statsDirty = true
            }
            failWaiters(above: truncateAfter, .outcomeUnknown)
        }
        for entry in entries { applyEntry(entry) }
        let lastSeq = entries.last?.seq ?? truncateAfter ?? 0
        store.submit(entries, truncateAfter: truncateAfter) { [weak self] failure in
            guard let self else { return }
            Task { await self.durable(upTo: lastSeq, failure: failure) }
        }
    }

    private func durable(upTo seq: UInt64, failure: StorageError?) {
        if let failure {
            // Not durable means never acknowledged: the entry stays unacked until a retry.
            logger.error("cannot write the replication log", metadata: ["error": "\(failure)"])
            return
        }
        let now = hooks.now()
        execute(replica.localDurable(upTo: seq, now: now), now: now)
    }

    /// A data entry enters the log: apply its event to the domain state.
    private func applyEntry(_ entry: ReplicationEntry) {
        guard case .data(let payload) = entry.kind else { return }
        if LiveLikesRecord.isRecord(payload) {
            guard let count = LiveLikesRecord.decode(payload) else {
                logger.error("malformed likes record in the log", metadata: ["replication.seq": "\(entry.seq)"])
                return
            }
            likesRecords.append((entry.seq, count))
            // A primary's own record is already in its state (counted when the likes came in).
            if ownLikes.remove(entry.seq) == nil {
                session.addLikes(count)
                statsDirty = true
            }
            return
        }
        do {
            let event: LiveEvent
            if let proposed, proposed.logSeq == entry.seq {
                event = proposed.event
            } else {
                event = try Self.decodeEvent(payload)
            }
            proposed = nil
            try session.apply(event)
            allEvents.append(event)
            eventLogSeqs.append(entry.seq)
            rendered.append(Self.sse(event))
        } catch {
            logger.error(
                "cannot apply a replicated event",
                metadata: ["replication.seq": "\(entry.seq)", "error": "\(error)"]
            )
        }
    }

    /// Primary: writes the likes counted since the last record as one record (not waited for:
    /// likes are answered 202). About once a second, and before the end.
    func flushLikes() {
        guard pendingLikes > 0, replica.role == .primary else { return }
        let clock = hooks.now()
        guard case .success(let (logSeq, directives)) = replica.propose(LiveLikesRecord.encode(pendingLikes), now: clock)
        else { return }
        ownLikes.insert(logSeq)
        pendingLikes = 0
        execute(directives, now: clock)
    }

    /// An event from the log: the binary form, or JSON (`{`), the form of logs written before it.
    static func decodeEvent(_ payload: [UInt8]) throws -> LiveEvent {
        if payload.first == UInt8(ascii: "{") {
            return try JSONCoding.decoder.decode(LiveEvent.self, from: Data(payload))
        }
        return try LiveEventCodec.decode(payload)
    }

    /// Shows committed events to viewers and answers their writers.
    private func publish(upTo logSeq: UInt64) {
        while Int(publishedSeq) < allEvents.count, eventLogSeqs[Int(publishedSeq)] <= logSeq {
            publishedSeq += 1
            let event = allEvents[Int(publishedSeq) - 1]
            eventFanout.broadcast(rendered[Int(publishedSeq) - 1], seq: publishedSeq)
            metrics.eventDeliveries.increment(by: Int64(eventFanout.count))
            metrics.eventsLogged.increment()
            afterCommit(event)
        }
        for (seq, waiters) in commitWaiters where seq <= logSeq {
            waiters.forEach { $0.resume() }
            commitWaiters[seq] = nil
        }
    }

    /// Side effects of a committed event on live connections.
    private func afterCommit(_ event: LiveEvent) {
        statsDirty = true
        switch event.type {
        case .started where event.record == true:
            do {
                try media.record(in: directory + "/media")
            } catch {
                logger.error("cannot record this session", metadata: ["error": "\(error)"])
            }
        case .kick:
            guard let user = event.targetUser else { return }
            for _ in eventFanout.finish(where: { $0.user == user }) { metrics.eventViewers.decrement() }
            updateViewers()
            for _ in mediaFanout.finish(where: { $0.user == user }) { metrics.mediaViewers.decrement() }
        case .ended:
            finishMedia()
            for _ in eventFanout.finish() { metrics.eventViewers.decrement() }
            for _ in mediaFanout.finish() { metrics.mediaViewers.decrement() }
            if !endedNotified {
                endedNotified = true
                hooks.ended(session.state)
            }
        default:
            break
        }
    }

    // MARK: Media

    /// Feeds ingest bytes on the primary: relays them to every other replica (one copy per
    /// node, not acknowledged), then the local pipeline. Never waits on viewers or replicas.
    func ingest(_ bytes: ByteBuffer) throws {
        guard replica.role == .primary else { throw ReplicaRefusal.notPrimary(hint: replica.primary) }
        // Ended at this position in the log: no media after it is relayed or recorded, and the
        // broadcaster's request is answered (its connection closed) by the error.
        guard session.state.phase != .ended else { throw LiveError.notLive }
        metrics.ingestBytes.increment(by: Int64(bytes.readableBytes))
        let others = replica.members.filter { $0 != nodeID } + replica.learners
        if !others.isEmpty { transport.relayMedia(bytes, group: group, session: sessionID, to: others) }
        try feedMedia(bytes)
    }

    /// Media relayed by the primary: the same pipeline, so this replica serves viewers itself.
    func relayed(_ bytes: ByteBuffer) {
        guard replica.role != .primary, session.state.phase != .ended else { return }
        // A new primary's stream: never splice it onto a GOP the old one left half-sent.
        if media.epoch != replica.epoch { media.restart(epoch: replica.epoch) }
        do { try feedMedia(bytes) } catch {
            logger.error("cannot store relayed media", metadata: ["error": "\(error)"])
        }
    }

    private func feedMedia(_ bytes: ByteBuffer) throws {
        try media.feed(bytes, logger: logger)
    }

    func ingestStarted() -> Bool {
        guard !ingestActive, session.state.phase != .ended else { return false }
        ingestActive = true
        hooks.ingestChanged(true)
        media.restart(epoch: replica.epoch)
        return true
    }

    func ingestEnded() {
        ingestActive = false
        hooks.ingestChanged(false)
    }

    private func finishMedia() {
        media.finish(logger: logger)
        ingestActive = false
    }

    /// The live HLS playlist, or nil before the first segment.
    func livePlaylist(uri: @Sendable (Int) -> String) -> String? {
        media.playlist(ended: session.state.phase == .ended, uri: uri)
    }

    func segment(_ sequence: Int) -> ByteBuffer? { media.segment(sequence) }

}
