import Foundation
import Live
import Logging
import NIOCore
import Shard

/// The replicated log of one session held here: the replication core's messages, timers and
/// directives, the log on disk, the domain state each entry changes, and what a commit shows to
/// viewers and answers to writers.
extension SessionHost {
    // MARK: Replication

    /// The replication clock, after handing the core this node's current scheduling-lag
    /// stretch: every call into the core goes through here, so its timeouts follow how late
    /// this node is now (`SchedulingLag`).
    func replicationNow() -> ReplicationTime {
        replica.timeoutStretch = hooks.timeoutStretch()
        return hooks.now()
    }

    /// A message from another replica of this session.
    func receive(_ message: ReplicationMessage, from sender: String) {
        let now = replicationNow()
        execute(replica.receive(message, from: sender, now: now), now: now)
    }

    /// The replication core's timer fired (armed by `rearm` for `SessionReplica.nextTimer`).
    func timerFired() {
        timerAt = nil
        timer = nil
        guard !settled else { return }
        let now = replicationNow()
        // The deadline moved later since the timer was armed (a heartbeat reset the election
        // timer): nothing is due yet; arm for the new one.
        expireCommitWaiters(now: now)
        guard now >= replica.nextTimer else { return rearm() }
        execute(replica.tick(now: now), now: now)
    }

    /// Arms the one timer for the core's next deadline; none once settled. Called after every
    /// call into the core, so a deadline that moved earlier (a lost primary) is met.
    func rearm() {
        guard !settled else {
            timer?.cancel()
            timer = nil
            timerAt = nil
            return
        }
        let next = replica.nextTimer
        // A timer armed for an earlier time stays: when it fires it re-arms for the later one.
        // (A replica's election deadline moves later with every append; rescheduling a timer per
        // write cost more than letting the old one fire once per timeout.)
        if let armed = timerAt, armed <= next { return }
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
        let now = replicationNow()
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
        let now = replicationNow()
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
            // The removed node is told once the removal commits (`.notifyRemoved`).
            execute(directives, now: now)
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
        let now = replicationNow()
        guard case .success(let directives) = replica.transferPrimary(to: target, now: now) else { return nil }
        execute(directives, now: now)
        return target
    }

    /// Waits until recorded segments are on disk (after `end`, so the replay is complete).
    func flushRecording() async {
        let recording = media.currentRecording
        await recording?.flush()
    }

    func confirm() {
        guard !confirmed else { return }
        confirmed = true
        report(confirmed: true)
    }

    /// Removed from the replica set (the directory checked the notice): stop replicating, close
    /// viewers (they resume on a replica). The log stays on disk: if this node is added back, it
    /// resumes from it.
    func retire() {
        finishEventViewers()
        finishMediaViewers()
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
    func execute(_ directives: [ReplicationDirective], now: ReplicationTime) {
        /// A vote that could not be stored: nothing after it in this batch may leave the node.
        var voteFailure: StorageError?
        for directive in directives {
            switch directive {
            case .send(let message, let node):
                guard voteFailure == nil else { continue }
                transport.send(message, group: group, to: node)
            case .persist(let entries, let truncateAfter):
                persist(entries, truncateAfter: truncateAfter)
            case .persistVote(let epoch, let votedFor):
                guard voteFailure == nil else { continue }
                do {
                    try store?.writeVote(epoch: epoch, votedFor: votedFor)
                } catch {
                    // Without the vote on disk this node could vote twice after a restart: what
                    // follows it in this batch (the vote itself, a campaign) is not sent, and the
                    // copy stops voting until its disk works (`storageFailed`). The rest (log
                    // writes, commits) goes on.
                    logger.error("cannot store the vote", metadata: ["error": "\(error)"])
                    voteFailure = error
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
                webhookSent = [:]
                webhookRecorded = [:]
                webhooksDue()
            case .notifyRemoved(let node, let epoch):
                transport.sendRemoved(group: group, session: sessionID, epoch: epoch, to: node)
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
        if abstainingAfterLoss, replica.abstainingAtOrBelow == nil {
            abstainingAfterLoss = false
            ReplicaStore.clearLostEntries(in: directory)
        }
        report()
        rearm()
        if let voteFailure { storageFailed(voteFailure) }
    }

    /// The last primary this copy knew: the directory campaigns when gossip loses it, also after
    /// the core forgot it (a higher epoch with no primary yet).

    func persist(_ entries: [ReplicationEntry], truncateAfter: UInt64?) {
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
        let generation = storageGeneration
        store?.submit(entries, truncateAfter: truncateAfter) { [weak self] failure in
            guard let self else { return }
            Task { await self.durable(upTo: lastSeq, generation: generation, failure: failure) }
        }
    }

    /// The log writer finished a write submitted in `generation`.
    func durable(upTo seq: UInt64, generation: UInt64, failure: StorageError?) {
        // Submitted before the last failure: the core forgot it (the rewrite covers it).
        guard generation == storageGeneration else { return }
        if let failure { return storageFailed(failure) }
        let now = replicationNow()
        execute(replica.localDurable(upTo: seq, now: now), now: now)
    }

    // MARK: Storage failures

    /// A log write, fsync or vote write failed: fail-stop. The log (already cut back to its last
    /// durable record by `AppendLog`) takes nothing more; the core is told, so it acknowledges
    /// nothing past what was durable and, if primary, steps down; writers waiting here are
    /// answered 507 (full disk) or 503, never acknowledged; a retry every `storageRetryInterval`
    /// recovers the log once the disk works again.
    func storageFailed(_ failure: StorageError) {
        guard storageFailure == nil else { return }
        storageFailure = failure
        storageGeneration += 1
        hooks.storage.logFailed()
        logger.error(
            "session log failed: this copy takes no writes and acknowledges nothing until it recovers",
            metadata: ["error": "\(failure)", "replication.durable_seq": "\(replica.durableSeq)"]
        )
        failWaiters(above: replica.commitSeq, .storage(failure))
        let now = replicationNow()
        execute(replica.diskFailed(now: now), now: now)
        scheduleStorageRetry()
    }

    /// How often a failed log retries: the time to notice that space came back.
    static let storageRetryInterval: TimeAmount = .milliseconds(250)

    func scheduleStorageRetry() {
        storageRetry?.cancel()
        storageRetry = timerLoop.scheduleTask(in: Self.storageRetryInterval) { [weak self] in
            guard let self else { return }
            Task { await self.retryStorage() }
        }
    }

    /// Recovers a failed log: stores the vote the core holds (it may have moved on while its disk
    /// failed), reopens the log cut back to its last durable record, then writes again what the
    /// core holds past it. Retried until it works.
    func retryStorage() async {
        storageRetry = nil
        guard storageFailure != nil else { return }
        do {
            try store?.writeVote(epoch: replica.epoch, votedFor: replica.votedFor)
            try await store?.recover()
        } catch {
            storageFailure = error
            return scheduleStorageRetry()
        }
        // The actor may have run other work during the await; the vote may have moved again.
        do {
            try store?.writeVote(epoch: replica.epoch, votedFor: replica.votedFor)
        } catch {
            return scheduleStorageRetry()
        }
        storageFailure = nil
        let now = replicationNow()
        guard let rewrite = replica.diskRecovered(now: now) else { return }
        logger.notice(
            "session log recovered: writes resume",
            metadata: [
                "replication.durable_seq": "\(rewrite.truncateAfter)",
                "replication.rewrite": "\(rewrite.entries.count)",
            ]
        )
        let generation = storageGeneration
        store?.rewrite(rewrite) { [weak self] failure in
            guard let self else { return }
            Task { await self.durable(upTo: rewrite.lastSeq, generation: generation, failure: failure) }
        }
        report()
        rearm()
    }

    /// A data entry enters the log: apply its event to the domain state.
    func applyEntry(_ entry: ReplicationEntry) {
        guard case .data(let payload) = entry.kind else { return }
        if WebhookCursorRecord.isRecord(payload) {
            guard let cursor = WebhookCursorRecord.decode(payload) else {
                logger.error("malformed webhook cursor in the log", metadata: ["replication.seq": "\(entry.seq)"])
                return
            }
            outbox.acknowledged(destination: cursor.destination, next: cursor.next)
            return
        }
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
            if event.type == .started, let from = event.ref { sharedFrom.withLock { $0 = from } }
            if event.type == .click { statsDirty = true }
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
        let clock = replicationNow()
        guard
            case .success(let (logSeq, directives)) = replica.propose(LiveLikesRecord.encode(pendingLikes), now: clock)
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
    func publish(upTo logSeq: UInt64) {
        while Int(publishedSeq) < allEvents.count, eventLogSeqs[Int(publishedSeq)] <= logSeq {
            publishedSeq += 1
            let event = allEvents[Int(publishedSeq) - 1]
            eventFanout.broadcast(rendered[Int(publishedSeq) - 1], seq: publishedSeq)
            metrics.eventDeliveries.increment(by: Int64(eventFanout.count))
            for (viewing, fanout) in scopedFanouts where Self.shows(event, to: viewing, sessionGroup: group) {
                fanout.broadcast(rendered[Int(publishedSeq) - 1], seq: publishedSeq)
                metrics.eventDeliveries.increment(by: Int64(fanout.count))
            }
            if !isRelay { metrics.eventsLogged.increment() }
            if outbox.committed(event) > 0 { webhooksDue() }
            afterCommit(event)
        }
        if !relay.downstream.isEmpty { pumpDownstream() }
        for (seq, waiters) in commitWaiters where seq <= logSeq {
            waiters.forEach { $0.resume() }
            commitWaiters[seq] = nil
        }
    }

    /// Side effects of a committed event on live connections.
    func afterCommit(_ event: LiveEvent) {
        statsDirty = true
        switch event.type {
        case .started where event.record == true && !isRelay:
            // Below --min-free-disk a new recording does not start (the live goes on unrecorded).
            if hooks.storage.diskLow() {
                hooks.storage.refused()
                logger.warning("not recording this session: disk space below --min-free-disk")
                return
            }
            do {
                try media.record(in: directory + "/media")
            } catch {
                logger.error("cannot record this session", metadata: ["error": "\(error)"])
            }
        case .kick:
            guard let user = event.targetUser else { return }
            finishEventViewers(where: { $0.user == user })
            updateViewers()
            finishMediaViewers(where: { $0.user == user })
        case .unshared:
            // The group's viewers were watching through the share: their streams end cleanly.
            guard let shared = event.ref else { return }
            finishEventViewers(where: { $0.via == shared })
            updateViewers()
            finishMediaViewers(where: { $0.via == shared })
        case .ended:
            finishMedia()
            finishEventViewers()
            finishMediaViewers()
            if !endedNotified {
                endedNotified = true
                hooks.ended(session.state)
            }
        default:
            break
        }
    }
}
