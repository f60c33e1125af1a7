/// Pre-vote (Raft thesis §9.6): a copy that lost its primary first asks the members whether they
/// would vote for it in the next epoch, and campaigns for real only with a majority of yeses.
///
/// Asking changes nothing at either end: the asker keeps its epoch and its vote, the members store
/// nothing and keep following their primary. A member says yes only when it has not heard from a
/// live primary for a minimal election timeout itself (the primary's lease) and the asker's log is
/// at least as up to date as its own. So a copy that was cut off, or starved of CPU while the
/// others kept hearing the primary, finds no majority and raises no epoch: it cannot depose a
/// healthy primary, however often its own timer fires. A transfer (`timeoutNow`) skips this
/// round: the primary itself asked for the election.
extension SessionReplica {
    /// The pre-vote campaign in progress: the epoch it asks about and who said yes.
    struct PreVote: Sendable, Hashable {
        var epoch: UInt64
        var granted: Set<String>
    }

    /// The election timeout fired, or gossip lost the primary: ask for pre-votes for `epoch + 1`.
    /// A copy alone in its set needs no one's opinion and campaigns at once.
    mutating func startPreVote(now: ReplicationTime, into directives: inout [ReplicationDirective]) {
        resetElectionTimer(now: now)
        guard canCampaign else { return }
        let target = epoch + 1
        preVote = PreVote(epoch: target, granted: [me])
        if 1 >= quorum {
            startElection(now: now, transfer: false, into: &directives)
            return
        }
        let request = ReplicationMessage(
            session: session,
            sender: me,
            epoch: target,
            kind: .preVoteRequest(lastSeq: log.lastSeq, lastEpoch: log.lastEpoch)
        )
        for member in members where member != me {
            directives.append(.send(request, to: member))
        }
    }

    /// Whether this copy would vote for `candidate` in `request.epoch`, answered without changing
    /// any state. Refused with our own epoch, so an asker that fell behind learns the current one.
    mutating func handlePreVoteRequest(
        _ request: ReplicationMessage,
        lastSeq: UInt64,
        lastEpoch: UInt64,
        from candidate: String,
        now: ReplicationTime,
        into directives: inout [ReplicationDirective]
    ) {
        // A node outside our configuration (a removed replica) gets no answer at all, as for votes.
        guard members.contains(candidate) else { return }
        let upToDate = lastEpoch > log.lastEpoch || (lastEpoch == log.lastEpoch && lastSeq >= log.lastSeq)
        let grant = request.epoch > epoch && upToDate && mayVote && !hearsLivePrimary(now: now)
        let answer = ReplicationMessage(
            session: session,
            sender: me,
            epoch: grant ? request.epoch : epoch,
            kind: .preVote(granted: grant)
        )
        directives.append(.send(answer, to: candidate))
    }

    /// The lease a live primary holds on this copy: a primary is never without itself, and a
    /// replica that heard its primary within a minimal election timeout still believes in it
    /// (gossip's `primaryLost` ends the lease early).
    func hearsLivePrimary(now: ReplicationTime) -> Bool {
        switch role {
        case .primary: return true
        case .candidate: return false
        case .replica:
            guard let heard = lastHeardFromPrimary else { return false }
            return now < heard + stretched(settings.electionTimeoutMin)
        }
    }

    /// An answer to our pre-vote request. A refusal from a later epoch is adopted (the asker was
    /// behind); a yes for the epoch we asked about counts, and a majority starts the real election.
    mutating func handlePreVote(
        _ answer: ReplicationMessage,
        granted: Bool,
        from voter: String,
        now: ReplicationTime,
        into directives: inout [ReplicationDirective]
    ) {
        guard granted else {
            if answer.epoch > epoch, role != .primary {
                follow(epoch: answer.epoch, primary: nil, now: now, into: &directives)
            }
            return
        }
        guard role != .primary, var preVote, preVote.epoch == answer.epoch, preVote.epoch == epoch + 1,
            members.contains(voter)
        else { return }
        preVote.granted.insert(voter)
        self.preVote = preVote
        guard members.filter({ preVote.granted.contains($0) }).count >= quorum else { return }
        self.preVote = nil
        startElection(now: now, transfer: false, into: &directives)
    }
}
