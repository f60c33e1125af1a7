/// Dispatch of received messages.
extension GossipInstance {
    /// Handles one message. Messages from an older generation of their sender are dropped whole:
    /// that process is gone and must not alter the view of its successor.
    public mutating func receive(_ message: GossipMessage, from address: String, now: GossipTime) -> [GossipDirective] {
        stats.messagesReceived += 1
        let sender = message.sender
        guard sender.id != myself.id, !sender.id.rawValue.isEmpty else { return flush() }
        let replyTo = sender.address.isEmpty ? address : sender.address
        if leaving {
            answerWhileLeft(message, replyTo: replyTo)
            return flush()
        }
        if let known = entries[sender.id]?.member, known.generation > sender.generation {
            stats.staleMessagesDropped += 1
            return flush()
        }
        var senderRecord = sender
        if senderRecord.address.isEmpty { senderRecord.address = address }
        apply(senderRecord, origin: sender.id, source: .direct, now: now)
        // Bounded: a message can not make us do unbounded work.
        for update in message.updates.prefix(max(settings.maxPiggyback, 1) * 4) {
            apply(update.member, origin: update.origin, source: .gossip, now: now)
        }

        switch message.kind {
        case .ping(let seq, let target, let targetGeneration):
            // A ping for an older generation of us is answered by this newer one (which supersedes
            // it); one for a newer generation means we are the stale process, so we stay silent.
            guard target == myself.id, targetGeneration <= myself.generation else { break }
            send(
                .ack(seq: seq, target: myself.id, targetGeneration: myself.generation, coordinate: vivaldi.coordinate),
                to: replyTo,
                receiver: sender.id
            )
        case .ack(let seq, let target, let targetGeneration, let coordinate):
            handleAck(
                seq: seq,
                target: target,
                targetGeneration: targetGeneration,
                coordinate: coordinate,
                sender: sender,
                now: now
            )
        case .pingReq(let seq, let target):
            handlePingRequest(seq: seq, target: target, requester: sender, replyTo: replyTo, now: now)
        case .nack(let seq, let target):
            handleNack(seq: seq, target: target)
        case .pushPull(let members, let isResponse):
            for member in members.prefix(100_000) {
                apply(member, origin: sender.id, source: .pushPull, now: now)
            }
            if !isResponse {
                send(.pushPull(members: snapshot(), isResponse: true), to: replyTo, receiver: sender.id)
            }
        case .leave, .gossip:
            // The sender's `left` record, or the gossip's updates, were applied above.
            break
        }
        return flush()
    }

    /// After leaving, answer probes and syncs with our `left` record, so stragglers learn of it.
    mutating func answerWhileLeft(_ message: GossipMessage, replyTo: String) {
        switch message.kind {
        case .ping(let seq, let target, let targetGeneration)
        where target == myself.id && targetGeneration <= myself.generation:
            send(
                .ack(seq: seq, target: myself.id, targetGeneration: myself.generation, coordinate: vivaldi.coordinate),
                to: replyTo,
                receiver: nil
            )
        case .pushPull(_, false):
            send(.pushPull(members: [myself], isResponse: true), to: replyTo, receiver: nil)
        default:
            break
        }
    }
}
