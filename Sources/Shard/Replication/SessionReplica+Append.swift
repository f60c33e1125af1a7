/// Writes, log shipping and commit (Raft §5.3, §5.4.2), with explicit durability.
extension SessionReplica {
    /// Primary: appends a client write, returns its seq. The write is acknowledged to the client
    /// only when a later `.committed(upTo:)` covers that seq.
    public mutating func propose(
        _ payload: [UInt8],
        now: ReplicationTime
    ) -> Result<(seq: UInt64, directives: [ReplicationDirective]), ReplicationError> {
        guard role == .primary else { return .failure(.notPrimary(hint: primary)) }
        // A primary that resumed from a freeze (SIGSTOP, a VM stall) may be asked to write before
        // its timer runs check-quorum: it takes nothing it cannot have a majority for.
        guard hasQuorumContact(now: now) else { return .failure(.notPrimary(hint: nil)) }
        if let transfer { return .failure(.transferInProgress(target: transfer.target)) }
        var directives: [ReplicationDirective] = []
        let seq = appendAsPrimary(.data(payload), into: &directives)
        return .success((seq, directives))
    }

    /// Appends an entry of this epoch, persists it, and ships it to every replica that is caught up
    /// (the others get it when their back-off or catch-up reaches it).
    mutating func appendAsPrimary(
        _ kind: ReplicationEntry.Kind,
        into directives: inout [ReplicationDirective]
    ) -> UInt64 {
        let entry = ReplicationEntry(seq: log.lastSeq + 1, epoch: epoch, kind: kind)
        log.append(entry)
        persist([entry], truncateAfter: nil, into: &directives)
        for follower in followers where progress[follower]?.nextSeq == entry.seq {
            sendAppend(to: follower, into: &directives)
        }
        return entry.seq
    }

    /// Sends what `follower` needs next: the snapshot if those entries were compacted, else a batch
    /// of entries (or an empty heartbeat). Advances `nextSeq` optimistically; a rejection backs it off.
    mutating func sendAppend(to follower: String, into directives: inout [ReplicationDirective]) {
        guard var progress = progress[follower] else { return }
        if progress.nextSeq <= log.baseSeq, let snapshot {
            directives.append(.send(message(.installSnapshot(snapshot)), to: follower))
            progress.nextSeq = snapshot.seq + 1
            self.progress[follower] = progress
            return
        }
        let prevSeq = min(progress.nextSeq - 1, log.lastSeq)
        let entries = log.entries(from: prevSeq + 1, limit: settings.maxEntriesPerAppend)
        let append = ReplicationMessage.Kind.append(
            prevSeq: prevSeq,
            prevEpoch: log.epoch(at: prevSeq) ?? 0,
            entries: entries,
            commitSeq: commitSeq
        )
        directives.append(.send(message(append), to: follower))
        progress.nextSeq = prevSeq + UInt64(entries.count) + 1
        self.progress[follower] = progress
    }

    mutating func primaryTick(now: ReplicationTime, into directives: inout [ReplicationDirective]) {
        if let transfer, now >= transfer.deadline { self.transfer = nil }
        // Check-quorum: a primary cut off from a majority steps down instead of accepting writes
        // that cannot commit (a new primary may already exist on the other side).
        if !hasQuorumContact(now: now) {
            follow(epoch: epoch, primary: nil, now: now, into: &directives)
            return
        }
        if now >= nextHeartbeat {
            nextHeartbeat = now + settings.heartbeatInterval
            for follower in followers { sendAppend(to: follower, into: &directives) }
        }
    }

    /// Check-quorum (Raft thesis §6.2): whether a majority of voters, this primary included,
    /// answered within a maximal election timeout. Past that, the replicas' own timers have fired
    /// and may have elected someone else: a partitioned or frozen-and-resumed primary must neither
    /// take writes nor claim the role.
    func hasQuorumContact(now: ReplicationTime) -> Bool {
        let window = stretched(settings.electionTimeoutMax)
        var alive = members.contains(me) ? 1 : 0
        for member in members where member != me {
            if let progress = progress[member], now < progress.lastAckAt + window { alive += 1 }
        }
        return alive >= quorum
    }

    mutating func handleAppend(
        _ append: ReplicationMessage,
        prevSeq: UInt64,
        prevEpoch: UInt64,
        entries: [ReplicationEntry],
        primaryCommit: UInt64,
        from sender: String,
        now: ReplicationTime,
        into directives: inout [ReplicationDirective]
    ) {
        guard acceptPrimary(append, from: sender, now: now, into: &directives) else { return }
        var prevSeq = prevSeq
        var prevEpoch = prevEpoch
        var entries = entries[...]
        // Entries up to the snapshot are committed, hence equal to the primary's: skip them.
        if prevSeq < log.baseSeq {
            let skip = Int(min(UInt64(entries.count), log.baseSeq - prevSeq))
            entries = entries.dropFirst(skip)
            prevSeq += UInt64(skip)
            if prevSeq < log.baseSeq {
                directives.append(
                    .send(message(.appendAck(success: false, matchSeq: 0, lastSeq: log.baseSeq)), to: sender)
                )
                return
            }
            prevEpoch = log.baseEpoch
        }
        // Consistency check (§5.3): our log must hold the primary's entry at prevSeq.
        guard let ourEpoch = log.epoch(at: prevSeq), ourEpoch == prevEpoch else {
            let hint =
                prevSeq > log.lastSeq
                ? log.lastSeq : max(commitSeq, log.firstSeq(ofEpochAt: prevSeq) - 1)
            directives.append(.send(message(.appendAck(success: false, matchSeq: 0, lastSeq: hint)), to: sender))
            return
        }
        var truncateAfter: UInt64?
        var appended: [ReplicationEntry] = []
        var configTouched = false
        for entry in entries {
            if let existing = log.epoch(at: entry.seq) {
                if existing == entry.epoch { continue }
                // A divergent uncommitted tail (from an old primary): drop it (§5.3). Committed
                // entries never conflict (Leader Completeness); the simulation checks that.
                if let config = log.config(atOrBefore: log.lastSeq), config.seq >= entry.seq { configTouched = true }
                log.truncate(after: entry.seq - 1)
                truncateAfter = entry.seq - 1
            }
            log.append(entry)
            appended.append(entry)
            if case .config = entry.kind { configTouched = true }
        }
        if truncateAfter != nil || !appended.isEmpty {
            persist(appended, truncateAfter: truncateAfter, into: &directives)
        }
        if configTouched { recomputeMembers() }
        primaryMatchSeq = max(primaryMatchSeq, prevSeq + UInt64(entries.count))
        let newCommit = min(primaryCommit, primaryMatchSeq)
        if newCommit > commitSeq {
            commitSeq = newCommit
            directives.append(.committed(upTo: newCommit))
        }
        endAbstentionIfRepaired()
        if needsAck(newEntries: !appended.isEmpty, duplicates: entries.count > appended.count, now: now) {
            sendAck(now: now, into: &directives)
        }
    }

    /// Whether an append just handled needs an answer now. Not when it brought new entries that
    /// are not on disk yet (the ack follows when they are: `localDurable`), and not for an empty
    /// append (a heartbeat or a commit notice) that would repeat, within half a heartbeat, an ack
    /// already sent to this primary for the same point. Under steady writes those two answers
    /// were two of the five link messages a write cost per replica, and carried nothing; a
    /// heartbeat still gets an answer when the replica has been quiet, which keeps the primary's
    /// check-quorum fed.
    mutating func needsAck(newEntries: Bool, duplicates: Bool, now: ReplicationTime) -> Bool {
        let match = min(primaryMatchSeq, durableSeq)
        if match > lastAckedSeq || duplicates { return true }
        if newEntries { return false }
        guard let last = lastAck, last.epoch == epoch, last.primary == primary, last.matchSeq == match else {
            return true
        }
        return now >= last.at + ReplicationDuration(nanoseconds: settings.heartbeatInterval.nanoseconds / 2)
    }

    /// Common to append and snapshot: reject an older epoch, adopt a newer one, follow the sender.
    mutating func acceptPrimary(
        _ message: ReplicationMessage,
        from sender: String,
        now: ReplicationTime,
        into directives: inout [ReplicationDirective]
    ) -> Bool {
        if message.epoch < epoch {
            // Tells an old primary about the newer epoch, so it steps down.
            directives.append(
                .send(self.message(.appendAck(success: false, matchSeq: 0, lastSeq: log.lastSeq)), to: sender)
            )
            return false
        }
        if message.epoch > epoch || role != .replica || primary != sender {
            // Two primaries in one epoch cannot happen (one vote per node per epoch); never follow
            // another primary of our own epoch.
            if message.epoch == epoch, role == .primary { return false }
            follow(epoch: message.epoch, primary: sender, now: now, into: &directives)
        }
        lastHeardFromPrimary = now
        resetElectionTimer(now: now)
        return true
    }

    /// Acknowledges the durable part of what matches the primary.
    mutating func sendAck(now: ReplicationTime, into directives: inout [ReplicationDirective]) {
        guard let primary else { return }
        let match = min(primaryMatchSeq, durableSeq)
        lastAckedSeq = max(lastAckedSeq, match)
        lastAck = SentAck(epoch: epoch, primary: primary, matchSeq: match, at: now)
        directives.append(.send(message(.appendAck(success: true, matchSeq: match, lastSeq: log.lastSeq)), to: primary))
    }

    mutating func handleAck(
        from sender: String,
        success: Bool,
        matchSeq: UInt64,
        hint: UInt64,
        now: ReplicationTime,
        into directives: inout [ReplicationDirective]
    ) {
        guard role == .primary, var progress = progress[sender] else { return }
        progress.lastAckAt = now
        if success {
            let match = min(matchSeq, log.lastSeq)
            if match > progress.matchSeq {
                progress.matchSeq = match
                progress.advancedAt = now
            }
            progress.nextSeq = max(progress.nextSeq, progress.matchSeq + 1)
            self.progress[sender] = progress
            advanceCommit(into: &directives)
            maybePromoteLearner(into: &directives)
            maybeSendTimeoutNow(to: sender, into: &directives)
            return
        }
        // A learner whose log ends below what it once acknowledged has lost it (its copy was
        // dropped and started afresh): start it over from what it has. Voters never lose
        // acknowledged entries, so their match point never goes back.
        if learners.contains(sender), hint < progress.matchSeq {
            progress.matchSeq = hint
            progress.nextSeq = hint + 1
            self.progress[sender] = progress
            sendAppend(to: sender, into: &directives)
            return
        }
        // Back off to where the replica said its log can continue; a stale rejection (not lower
        // than what we already plan to send) is ignored.
        let next = max(progress.matchSeq + 1, min(hint + 1, log.lastSeq + 1))
        if next < progress.nextSeq {
            progress.nextSeq = next
            self.progress[sender] = progress
            sendAppend(to: sender, into: &directives)
        } else {
            self.progress[sender] = progress
        }
    }

    /// Commits the highest seq durable on a majority of voters, if it is of this epoch (§5.4.2:
    /// counting replicas never commits an older epoch's entry directly).
    mutating func advanceCommit(into directives: inout [ReplicationDirective]) {
        guard role == .primary else { return }
        var matches = members.map { $0 == me ? durableSeq : (progress[$0]?.matchSeq ?? 0) }
        guard matches.count >= quorum else { return }
        matches.sort(by: >)
        let candidate = matches[quorum - 1]
        guard candidate > commitSeq, log.epoch(at: candidate) == epoch else { return }
        commitSeq = candidate
        directives.append(.committed(upTo: candidate))
        while let removal = pendingRemovals.first, removal.seq <= commitSeq {
            pendingRemovals.removeFirst()
            directives.append(.notifyRemoved(node: removal.node, epoch: epoch))
        }
        // Tell replicas that have everything now rather than at the next heartbeat: their viewers
        // see an event only once they know it is committed, so this is their event latency.
        for follower in followers where (progress[follower]?.nextSeq ?? 0) > log.lastSeq {
            sendAppend(to: follower, into: &directives)
        }
        maybePromoteLearner(into: &directives)
    }
}
