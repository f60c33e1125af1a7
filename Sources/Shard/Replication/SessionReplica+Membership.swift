/// Replica-set changes, one member at a time (Raft §4.1), with newcomers caught up first (§4.2.1).
extension SessionReplica {
    /// Primary: starts replicating to `newMember` as a learner (no vote). Once its durable log is
    /// within `catchUpMaxLag` of ours, a config entry adds it as a voter. If the primary changes
    /// before that, the learner is forgotten and the shell asks the new primary again.
    public mutating func addMember(
        _ newMember: String,
        now: ReplicationTime
    ) -> Result<[ReplicationDirective], ReplicationError> {
        if let refusal = changeRefusal() { return .failure(refusal) }
        guard !members.contains(newMember), !learners.contains(newMember), newMember != me else {
            return .failure(.alreadyMember(newMember))
        }
        var directives: [ReplicationDirective] = []
        learners.append(newMember)
        progress[newMember] = Progress(
            nextSeq: log.lastSeq + 1,
            lastAckAt: now,
            catchUpTarget: commitSeq,
            advancedAt: now
        )
        if log.lastSeq - log.baseSeq > settings.snapshotHintEntries { directives.append(.needSnapshot) }
        sendAppend(to: newMember, into: &directives)
        return .success(directives)
    }

    /// Primary: removes a voter (at once, by a config entry) or forgets a learner. The primary itself
    /// cannot be removed: transfer the role first.
    public mutating func removeMember(
        _ member: String,
        now: ReplicationTime
    ) -> Result<[ReplicationDirective], ReplicationError> {
        guard role == .primary else { return .failure(.notPrimary(hint: primary)) }
        guard member != me else { return .failure(.cannotRemovePrimary) }
        if let index = learners.firstIndex(of: member) {
            learners.remove(at: index)
            progress[member] = nil
            return .success([.notifyRemoved(node: member, epoch: epoch)])
        }
        guard members.contains(member) else { return .failure(.unknownMember(member)) }
        if let refusal = changeRefusal() { return .failure(refusal) }
        var directives: [ReplicationDirective] = []
        appendConfig(members.filter { $0 != member }, into: &directives)
        pendingRemovals.append(PendingRemoval(seq: configSeq, node: member))
        return .success(directives)
    }

    /// Why a membership change cannot start now, if it cannot.
    func changeRefusal() -> ReplicationError? {
        guard role == .primary else { return .notPrimary(hint: primary) }
        if let transfer { return .transferInProgress(target: transfer.target) }
        // The primary's first entry of its epoch must be committed before a change: without this,
        // single-server changes across primary changes can lose a committed config (Ongaro 2015).
        guard commitSeq >= firstSeqOfEpoch else { return .epochNotCommitted }
        guard configSeq <= commitSeq else { return .configChangeInProgress }
        return nil
    }

    mutating func appendConfig(_ newMembers: [String], into directives: inout [ReplicationDirective]) {
        members = newMembers
        // A promoted learner keeps its progress; a removed voter's is dropped.
        for id in progress.keys.sorted() where !followers.contains(id) { progress[id] = nil }
        configSeq = appendAsPrimary(.config(newMembers), into: &directives)
    }

    /// Promotes the first caught-up learner, when no other change is pending.
    mutating func maybePromoteLearner(into directives: inout [ReplicationDirective]) {
        guard changeRefusal() == nil else { return }
        for learner in learners {
            // Caught up means holding what was committed when it was added and being close to the
            // end. Not "holding the current commit point": under steady writes a learner's acks
            // trail the moving commit by a round trip and it would never be promoted (seen in the
            // chaos run). A voter a few entries behind is safe (a quorum's matchSeq implies the
            // whole prefix); it only delays commits for the moment it takes to catch up.
            guard let progress = progress[learner], progress.matchSeq >= progress.catchUpTarget,
                progress.matchSeq + settings.catchUpMaxLag >= log.lastSeq
            else {
                continue
            }
            learners.removeAll { $0 == learner }
            appendConfig(members + [learner], into: &directives)
            return
        }
    }

    mutating func handleInstallSnapshot(
        _ install: ReplicationMessage,
        snapshot incoming: ReplicationSnapshot,
        from sender: String,
        now: ReplicationTime,
        into directives: inout [ReplicationDirective]
    ) {
        guard acceptPrimary(install, from: sender, now: now, into: &directives) else { return }
        if incoming.seq <= commitSeq || log.epoch(at: incoming.seq) == incoming.epoch {
            // We already hold that prefix (a duplicate or late snapshot): keep our log, which may
            // hold acknowledged entries past it (Raft §7 says the same).
            primaryMatchSeq = max(primaryMatchSeq, min(incoming.seq, log.lastSeq))
        } else {
            let oldCommit = commitSeq
            log = ReplicationLog(baseSeq: incoming.seq, baseEpoch: incoming.epoch)
            snapshot = incoming
            baseMembers = incoming.members
            recomputeMembers()
            commitSeq = incoming.seq
            primaryMatchSeq = incoming.seq
            // Until the snapshot is durable, only the old committed prefix is known safe on disk.
            pendingPersists.append(PendingPersist(truncateAfter: oldCommit, lastSeq: incoming.seq))
            directives.append(.installSnapshot(incoming))
        }
        let match = min(primaryMatchSeq, durableSeq)
        lastAckedSeq = max(lastAckedSeq, match)
        directives.append(.send(message(.snapshotAck(matchSeq: match)), to: sender))
    }
}
