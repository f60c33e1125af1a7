import Foundation
import Live
import Logging
import Metrics
import NIOCore
import Shard
import Synchronization

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
    /// `SessionInfo.sharedFrom` once `started` is applied: read on every request to the group
    /// (`SessionRouter.shareSource`), so without a hop onto this actor.
    nonisolated let sharedFrom = Mutex<String?>(nil)
    let directory: String
    var replica: SessionReplica
    /// Domain state after every event in the log, committed or not.
    var session: LiveSession
    /// The session's log on disk; nil on an edge relay, which holds nothing durable.
    let store: ReplicaStore?
    /// An edge relay's copy (issue 17): fed the committed entries and the media by an upstream
    /// copy, never a replica (it holds no vote, no log on disk, and takes no write). Its viewers
    /// are served exactly as a replica's.
    nonisolated let isRelay: Bool
    /// The relays this copy feeds, and on a relay its upstream (`SessionHost+Relay.swift`).
    var relay = RelayState()
    let transport: any ReplicationTransport
    let hooks: SessionHostHooks
    let logger: Logger
    let settings: LiveSettings
    let metrics: LiveMetrics

    /// Every event in the log, index = event seq - 1; the log seq of each; its SSE rendering.
    var allEvents: [LiveEvent] = []
    var eventLogSeqs: [UInt64] = []
    var rendered: [ByteBuffer] = []
    /// Events shown to viewers: the committed prefix.
    var publishedSeq: UInt64 = 0
    /// Writers waiting for their entry (by log seq) to commit.
    var commitWaiters: [UInt64: [CheckedContinuation<Void, any Error>]] = [:]
    /// When each waited-for entry's writers give up (`LiveSettings.commitTimeout`), in log order
    /// (entries are proposed in order, so deadlines are too). Checked at the primary's timer.
    var commitDeadlines: [(logSeq: UInt64, at: ReplicationTime)] = []
    var endedNotified = false
    /// Likes counted here as primary and not yet written to the log (`LiveLikesRecord`).
    var pendingLikes: Int64 = 0
    /// Likes records in the log (log seq, count): a truncation rebuilds the state with them.
    var likesRecords: [(logSeq: UInt64, count: Int64)] = []
    /// Log seqs of likes records proposed here: already in this node's state when they return.
    var ownLikes: Set<UInt64> = []
    /// The directory settled this copy: its timers are stopped for good (until woken).
    var settled = false
    /// The one timer of the replication core (`SessionReplica.nextTimer`), armed on `timerLoop`.
    var timer: Scheduled<Void>?
    var timerAt: ReplicationTime?
    /// The copy lost entries it may have acknowledged and abstains from elections until it
    /// caught up; the mark on disk (`ReplicaStore.markLostEntries`) goes once it has.
    var abstainingAfterLoss = false
    let timerLoop: any EventLoop
    /// What the directory was last told of this copy.
    var reported: DirectoryCopy?
    var confirmed = false
    var lastKnownPrimary: String?

    let eventFanout = FanoutGroup()
    /// Event viewers of `?scope=own`, by the group they watch from: each gets every event but
    /// the comments and questions written from other groups (a live shared into several).
    var scopedFanouts: [String: FanoutGroup] = [:]
    /// Demuxer, GOP cache, HLS window, recording and `stream.ts` viewers.
    let media: MediaPipeline
    var mediaFanout: FanoutGroup { media.fanout }
    var nextViewerID: UInt64 = 0
    var statsDirty = false
    /// A pass returning expired red packets runs (`expireDueRedPackets`).
    var expiringRedPackets = false
    /// The event this primary just proposed, by log seq: applying its own entry needs no decode
    /// of the JSON it was just encoded to (5% of the primary's CPU at 1,000 writes/s).
    var proposed: (logSeq: UInt64, event: LiveEvent)?
    var lastPing = ContinuousClock.now

    var ingestActive = false
    /// Event and media streams per user held here (`ViewerTicket`s alive).
    var viewersByUser: [String: Int] = [:]

    /// What stopped this copy's log (fail-stop), until it recovers; writes are refused meanwhile.
    var storageFailure: StorageError?
    /// Bumped by every failure: completions of writes submitted before it are ignored (the core
    /// forgot those writes and asks for a rewrite when the disk recovers).
    var storageGeneration: UInt64 = 0
    /// The retry of a failed log.
    var storageRetry: Scheduled<Void>?
    /// Recording stopped for lack of space (logged once).
    var recordingPaused = false
    /// The webhooks this log owes (derived from committed events, advanced by cursor records).
    var outbox: WebhookOutbox
    /// Primary only: per destination, the index its sender has been acknowledged up to (ahead of
    /// the cursor records while they commit). Cleared with the role.
    var webhookSent: [UInt64: UInt64] = [:]
    /// Primary only: the cursor last proposed per destination, and whether a flush of the
    /// cursors is due (`flushWebhookCursors`).
    var webhookRecorded: [UInt64: UInt64] = [:]
    var webhookFlushDue = false

    /// A session this node holds: a fresh primary (`bootstrap`), a restored one (`restore`), or a
    /// replica created when its primary first ships to it.
    enum Origin {
        case bootstrap(members: [String])
        case restore
        case replica
        /// An edge relay: fed by an upstream copy, nothing on disk.
        case relay

        var isRelay: Bool {
            if case .relay = self { return true }
            return false
        }
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
        if origin.isRelay {
            self.store = nil
            self.isRelay = true
            // No replication timer ever runs on a relay: it never campaigns or times out.
            self.settled = true
        } else {
            self.store = try ReplicaStore(directory: directory)
            self.isRelay = false
        }
        var logger = logger
        logger[metadataKey: "live.session"] = "\(id)"
        logger[metadataKey: "live.group"] = "\(group)"
        self.logger = logger
        self.media = MediaPipeline(settings: settings, metrics: metrics)
        self.outbox = WebhookOutbox(destinations: settings.webhookDestinations)
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
        case .replica, .restore, .relay:
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
        if case .restore = origin, let store {
            let loaded = try store.load()
            replica.restore(from: loaded.state, log: loaded.entries, now: now)
            if let damage = loaded.damage {
                let kept = replica.lastSeq
                logger.error(
                    "session log damaged: kept its valid part; the copy catches up from its replica set",
                    metadata: [
                        "storage.damage": "\(damage)", "storage.quarantined": "\(loaded.quarantinedAs ?? "-")",
                        "replication.last_seq": "\(kept)", "storage.lost_entries": "\(loaded.lostEntries)",
                    ]
                )
                if loaded.quarantinedAs != nil { hooks.storage.quarantined() }
            }
            if loaded.lostEntries {
                // A settled copy that lost committed entries cannot show its replay whole, and
                // nobody ships to a settled session: it is not loaded (the other copies serve it).
                if let committed = ReplicaStore.settledCommit(in: directory), committed > replica.lastSeq {
                    throw StorageError.corrupt(
                        path: directory + "/" + ReplicaStore.logName,
                        line: Int(replica.lastSeq) + 1
                    )
                }
                initial += replica.lostEntriesOnDisk(now: now)
                abstainingAfterLoss = true
            }
            // A settled copy's commit point was stored with the mark: shown again at once, with
            // no election to relearn it (an ended session never campaigns again).
            if let committed = ReplicaStore.settledCommit(in: directory) {
                initial += replica.restoreCommitted(upTo: committed)
                settled = true
            }
        }
        // A restored session counts its ingest grace from the restart.
        self.initial = initial
    }

    /// Webhooks are given up this long after their event (API.md: 24 h).
    static let webhookGiveUpMillis: Int64 = 86_400_000

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
        // A session that ended more than a day ago owes no webhook any more (each would be
        // given up): a copy restored after webhooks were configured settles, as before.
        if let endedAt = session.state.info.endedAt, LiveSessions.nowMillis() - endedAt > Self.webhookGiveUpMillis {
            outbox.forgetOwed()
            report()
        }
    }

    /// This copy as the session directory sees it.
    /// This copy's phase as the directory sees it.
    var phase: CopyPhase {
        switch session.state.phase {
        case .pending: .starting
        case .live: .live
        case .ended: endedNotified ? .settled : .ending
        }
    }

    var copy: DirectoryCopy {
        DirectoryCopy(
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
            commitSeq: replica.commitSeq,
            permanent: GroupLog.isLog(group),
            outboxPending: outbox.pending
        )
    }

    var stall: ReplicationDuration {
        .milliseconds(UInt64(settings.learnerStall.components.seconds * 1000))
    }

    /// Tells the directory when what it decides from changed (role, epoch, members, learners,
    /// phase, and once ended whether the log is all committed and whether webhooks are owed): not on every write of a busy
    /// session. (The directory reads the commit point only to settle an ended copy; reporting
    /// its flip while live cost two reports, a lock and a queue hop, per write.)
    /// Runs after every call into the core, so it compares first and builds the whole status
    /// (lag, stalled learners) only when something changed.
    func report(confirmed: Bool = false) {
        if !confirmed, let reported, reported.role == replica.role, reported.epoch == replica.epoch,
            reported.primary == (replica.primary ?? lastKnownPrimary), reported.members == replica.members,
            reported.learners == replica.learners, reported.phase == phase,
            phase == .live || phase == .starting
                || (reported.commitSeq == reported.lastSeq) == (replica.commitSeq == replica.lastSeq)
                    && reported.outboxPending == outbox.pending
        {
            return
        }
        let now = copy
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
            epoch: isRelay ? relay.epoch : replica.epoch,
            primary: replica.primary,
            members: isRelay ? relay.members : replica.members,
            lastSeq: isRelay ? relay.covered : replica.lastSeq,
            commitSeq: isRelay ? relay.covered : replica.commitSeq,
            lastEventSeq: UInt64(allEvents.count),
            publishedEventSeq: publishedSeq,
            lag: replica.lag,
            phase: session.state.phase,
            isRelay: isRelay,
            upstream: relay.upstream,
            viewers: viewerCount,
            relays: downstreamRelays
        )
    }

    // MARK: Writes

    /// What a write produced.
    enum WriteResult: Sendable {
        /// The event at `seq`; `repeated` when it was logged by an earlier call (a retry, a
        /// second grab or click) and this one changed nothing.
        case logged(seq: UInt64, event: LiveEvent?, repeated: Bool)
        case likes(total: Int64)
    }

    /// Decides one command on the primary, replicates it, and returns once a majority has it on
    /// disk. Throws `LiveError` for refusals and `ReplicaRefusal` when this node cannot take it.
    func write(_ command: LiveCommand, by actor: LiveActor, now: Int64) async throws -> WriteResult {
        if let storageFailure {
            hooks.storage.refused()
            throw ReplicaRefusal.storage(storageFailure)
        }
        guard replica.role == .primary else { throw ReplicaRefusal.notPrimary(hint: replica.primary) }
        // Below --min-free-disk nothing new is written; the end still is (it stops the session
        // from growing, and the reserve is there for it).
        if hooks.storage.diskLow(), !Self.isEnd(command) {
            hooks.storage.refused()
            throw ReplicaRefusal.storage(.noSpace(path: directory))
        }
        // The likes counted so far go into the log before the end, so the replay shows them all;
        // so do the red packets' unclaimed shares, returned to their senders.
        // A packet sent while a pass waits for its commits is returned by the next pass: the end
        // is decided, with no wait in between, once none is open (found by the red-packet chaos
        // simulation: a packet sent at the end stayed open for good).
        if case .end = command {
            flushLikes()
            while session.state.redPackets.values.contains(where: \.open) {
                try await expireRedPackets(dueBy: nil, now: now)
            }
        }
        let likesBefore = session.state.likes
        let decision = session.decide(
            command,
            by: actor,
            now: now,
            mediaMillis: media.timelineMillis,
            entropy: UInt64.random(in: .min ... .max)
        )
        switch decision {
        case .failure(let error):
            throw error
        case .success(.likes(let total)):
            pendingLikes += total - likesBefore
            statsDirty = true
            return .likes(total: total)
        case .success(.duplicate(let seq)):
            let index = Int(seq) - 1
            if index < eventLogSeqs.count { try await waitCommitted(eventLogSeqs[index]) }
            return .logged(seq: seq, event: index < allEvents.count ? allEvents[index] : nil, repeated: true)
        case .success(.append(let event)):
            let started = ContinuousClock.now
            let payload = LiveEventCodec.encode(event)
            let clock = replicationNow()
            switch replica.propose(payload, now: clock) {
            case .failure(.transferInProgress(let target)):
                throw ReplicaRefusal.notPrimary(hint: target)
            case .failure where replica.role == .primary:
                // Out of touch with a majority (resumed from a freeze, cut off): step down now,
                // not at the next timer, so the writer's retry finds the current primary.
                execute(replica.tick(now: clock), now: clock)
                throw ReplicaRefusal.notPrimary(hint: nil)
            case .failure:
                throw ReplicaRefusal.notPrimary(hint: replica.primary)
            case .success(let (logSeq, directives)):
                proposed = (logSeq, event)
                execute(directives, now: clock)
                try await waitCommitted(logSeq)
            }
            metrics.writeLatency.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
            return .logged(seq: event.seq, event: event, repeated: false)
        }
    }

    static func isEnd(_ command: LiveCommand) -> Bool {
        if case .end = command { return true }
        return false
    }

    private func waitCommitted(_ logSeq: UInt64) async throws {
        guard logSeq > replica.commitSeq else { return }
        if commitWaiters[logSeq] == nil {
            let timeout = settings.commitTimeout.components
            let milliseconds = UInt64(timeout.seconds) * 1000 + UInt64(timeout.attoseconds / 1_000_000_000_000_000)
            commitDeadlines.append((logSeq, hooks.now() + .milliseconds(milliseconds)))
        }
        try await withCheckedThrowingContinuation { commitWaiters[logSeq, default: []].append($0) }
    }

    /// Writers waiting past their deadline are answered: the entry could not reach a majority in
    /// time (replicas frozen, their disks failing). Its outcome is unknown: it may still commit,
    /// and a retry with the same `id` is applied once. Without this a write waited for ever.
    func expireCommitWaiters(now: ReplicationTime) {
        while let first = commitDeadlines.first, first.at <= now || commitWaiters[first.logSeq] == nil {
            commitDeadlines.removeFirst()
            guard let waiters = commitWaiters.removeValue(forKey: first.logSeq) else { continue }
            waiters.forEach { $0.resume(throwing: ReplicaRefusal.commitTimedOut) }
            metrics.commitTimeouts.increment(by: Int64(waiters.count))
        }
    }

    /// Fails waiters for entries above `logSeq` (all when nil): their fate is unknown here.
    func failWaiters(above logSeq: UInt64?, _ error: ReplicaRefusal) {
        for (seq, waiters) in commitWaiters where logSeq.map({ seq > $0 }) ?? true {
            waiters.forEach { $0.resume(throwing: error) }
            commitWaiters[seq] = nil
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

    func feedMedia(_ bytes: ByteBuffer) throws {
        forwardMedia(bytes)
        if media.currentRecording != nil {
            let low = hooks.storage.diskLow()
            if low != recordingPaused {
                recordingPaused = low
                media.recordingPaused = low
                if low {
                    hooks.storage.refused()
                    logger.warning("recording paused: disk space below --min-free-disk; the live goes on")
                } else {
                    logger.notice("recording resumed: disk space is back above --min-free-disk")
                }
            }
        }
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

    func finishMedia() {
        media.finish(logger: logger)
        ingestActive = false
    }

    /// The live HLS playlist, or nil before the first segment.
    func livePlaylist(uri: @Sendable (Int) -> String) -> String? {
        media.playlist(ended: session.state.phase == .ended, uri: uri)
    }

    func segment(_ sequence: Int) -> ByteBuffer? { media.segment(sequence) }

}
