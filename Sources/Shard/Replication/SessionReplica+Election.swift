/// Elections (Raft §5.2, §5.4.1) with leader stickiness (§4.2.3) and transfer (§3.10).
extension SessionReplica {
    /// Only a voting member with a non-empty log campaigns. The empty-log rule is what makes the
    /// bootstrap primary the only possible primary of epoch 1.
    /// Nor one whose disk fails or that lost acknowledged entries (`mayVote`).
    var canCampaign: Bool { members.contains(me) && log.lastSeq > 0 && mayVote }

    /// Starts a real election in the next epoch: after a majority of pre-votes, or at once for a
    /// transfer. It always raises the epoch: the pre-vote round already proved a majority
    /// reachable and willing, so a campaign here is never the silent retry of a node nobody
    /// hears. (Before pre-vote, a campaign no voter answered was retried in the same epoch, so a
    /// removed or cut-off node would not come back with an inflated epoch; a node that gets no
    /// pre-votes now never raises its epoch at all.)
    mutating func startElection(now: ReplicationTime, transfer: Bool, into directives: inout [ReplicationDirective]) {
        resetElectionTimer(now: now)
        guard canCampaign else { return }
        epoch += 1
        votedFor = me
        directives.append(.persistVote(epoch: epoch, votedFor: me))
        preVote = nil
        role = .candidate
        primary = nil
        primaryMatchSeq = 0
        lastAckedSeq = 0
        votes = [me]
        if votes.count >= quorum {
            becomePrimary(now: now, into: &directives)
            return
        }
        let request = message(.requestVote(lastSeq: log.lastSeq, lastEpoch: log.lastEpoch, transfer: transfer))
        for member in members where member != me {
            directives.append(.send(request, to: member))
        }
    }

    mutating func handleRequestVote(
        _ request: ReplicationMessage,
        lastSeq: UInt64,
        lastEpoch: UInt64,
        transfer: Bool,
        from candidate: String,
        now: ReplicationTime,
        into directives: inout [ReplicationDirective]
    ) {
        // A candidate outside our configuration (typically a removed replica that never learned it)
        // is ignored outright, epoch included, so it cannot disrupt the set it left (§4.2.3).
        if !members.contains(candidate) { return }
        if !transfer, request.epoch > epoch {
            // Stickiness: while a primary is known alive, ignore the request entirely (do not even
            // adopt its epoch), so a node back from a partition cannot depose a healthy primary.
            if hearsLivePrimary(now: now) { return }
        }
        if request.epoch > epoch { follow(epoch: request.epoch, primary: nil, now: now, into: &directives) }
        guard request.epoch == epoch else {
            directives.append(.send(message(.vote(granted: false)), to: candidate))
            return
        }
        let upToDate = lastEpoch > log.lastEpoch || (lastEpoch == log.lastEpoch && lastSeq >= log.lastSeq)
        let free = votedFor == nil || votedFor == candidate
        if role == .replica, upToDate, free, mayVote {
            if votedFor == nil {
                votedFor = candidate
                directives.append(.persistVote(epoch: epoch, votedFor: candidate))
            }
            resetElectionTimer(now: now)
            directives.append(.send(message(.vote(granted: true)), to: candidate))
        } else {
            directives.append(.send(message(.vote(granted: false)), to: candidate))
        }
    }

    mutating func handleVote(
        from voter: String,
        epoch voteEpoch: UInt64,
        now: ReplicationTime,
        into directives: inout [ReplicationDirective]
    ) {
        guard role == .candidate, voteEpoch == epoch, members.contains(voter) else { return }
        votes.insert(voter)
        if members.filter({ votes.contains($0) }).count >= quorum { becomePrimary(now: now, into: &directives) }
    }

    /// Takes over the epoch: every replica starts optimistic at our log end, and the first entry of
    /// the epoch (a config entry restating the members) commits everything before it once it is
    /// on a majority (§5.4.2, §8).
    mutating func becomePrimary(now: ReplicationTime, into directives: inout [ReplicationDirective]) {
        role = .primary
        primary = me
        preVote = nil
        votes = []
        transfer = nil
        learners = []
        progress = [:]
        for follower in followers {
            progress[follower] = Progress(nextSeq: log.lastSeq + 1, lastAckAt: now, advancedAt: now)
        }
        directives.append(.becamePrimary(epoch: epoch))
        let entry = ReplicationEntry(seq: log.lastSeq + 1, epoch: epoch, kind: .config(members))
        firstSeqOfEpoch = entry.seq
        log.append(entry)
        configSeq = entry.seq
        persist([entry], truncateAfter: nil, into: &directives)
        for follower in followers { sendAppend(to: follower, into: &directives) }
        nextHeartbeat = now + settings.heartbeatInterval
    }

    /// Primary: hands the role to `target` (a voter). Writes are refused meanwhile; once the target's
    /// log matches ours it gets `timeoutNow` and wins the next epoch. Abandoned after
    /// `transferTimeout`.
    public mutating func transferPrimary(
        to target: String,
        now: ReplicationTime
    ) -> Result<[ReplicationDirective], ReplicationError> {
        guard role == .primary else { return .failure(.notPrimary(hint: primary)) }
        guard target != me, members.contains(target) else { return .failure(.unknownMember(target)) }
        transfer = Transfer(target: target, deadline: now + settings.transferTimeout)
        var directives: [ReplicationDirective] = []
        if !maybeSendTimeoutNow(to: target, into: &directives) { sendAppend(to: target, into: &directives) }
        return .success(directives)
    }

    /// Sends `timeoutNow` once the transfer target has our whole log durable.
    @discardableResult
    mutating func maybeSendTimeoutNow(to target: String, into directives: inout [ReplicationDirective]) -> Bool {
        guard var transfer, transfer.target == target, !transfer.timeoutNowSent,
            let match = progress[target]?.matchSeq, match >= log.lastSeq
        else { return false }
        transfer.timeoutNowSent = true
        self.transfer = transfer
        directives.append(.send(message(.timeoutNow), to: target))
        return true
    }
}
