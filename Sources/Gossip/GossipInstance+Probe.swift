/// SWIM failure detection: direct probe, indirect probes through k helpers, nacks, suspicion.
extension GossipInstance {
    /// Moves the probe in flight through its phases and starts the next one when it is due.
    mutating func advanceProbe(now: GossipTime) {
        if var current = probe {
            if !current.indirectSent && now >= current.timeoutAt {
                sendIndirectProbes(&current, now: now)
            }
            if now >= current.deadline {
                probe = nil
                probeFailed(current, now: now)
            } else {
                probe = current
            }
        }
        if probe == nil, let urgent = urgentProbe {
            urgentProbe = nil
            if let member = entries[urgent]?.member, member.status.isActive {
                startProbe(now: now, target: member)
                return
            }
        }
        if probe == nil && now >= nextProbeAt {
            startProbe(now: now)
        }
    }

    /// Probes the next member of the shuffled round-robin order; a round ends when every member was
    /// visited, and the next round is a fresh shuffle (bounded time to the first probe of anyone).
    mutating func startProbe(now: GossipTime, target explicit: Member? = nil) {
        nextProbeAt = now + scaled(settings.probeInterval)
        var target: Member? = explicit
        var reshuffled = false
        while target == nil {
            if probeIndex >= probeOrder.count {
                if reshuffled { return }
                reshuffled = true
                probeOrder = memberIDs.filter { entries[$0]?.member.status.isActive == true }
                probeOrder.shuffle(using: &random)
                probeIndex = 0
                continue
            }
            let id = probeOrder[probeIndex]
            probeIndex += 1
            if let member = entries[id]?.member, member.status.isActive { target = member }
        }
        guard let target else { return }
        let seq = nextSequence()
        probe = ProbeState(
            target: target.id,
            generation: target.generation,
            address: target.address,
            seq: seq,
            sentAt: now,
            timeoutAt: now + scaled(settings.probeTimeout),
            deadline: now + scaled(settings.probeInterval)
        )
        stats.probesSent += 1
        send(
            .ping(seq: seq, target: target.id, targetGeneration: target.generation),
            to: target.address,
            receiver: target.id
        )
    }

    /// Asks up to k random alive members to probe the target for us.
    mutating func sendIndirectProbes(_ current: inout ProbeState, now: GossipTime) {
        current.indirectSent = true
        let candidates = memberIDs.filter { $0 != current.target && entries[$0]?.member.status == .alive }
        let count = min(settings.indirectProbes, candidates.count)
        guard count > 0, var target = entries[current.target]?.member else { return }
        target.coordinate = nil
        for helper in randomMembers(count, of: candidates) {
            send(.pingReq(seq: current.seq, target: target), to: helper.address, receiver: helper.id)
        }
        current.expectedNacks = count
        stats.indirectProbesSent += count
    }

    /// No ack in the whole interval: adjust local health (Lifeguard) and suspect the target.
    mutating func probeFailed(_ failed: ProbeState, now: GossipTime) {
        stats.probesFailed += 1
        // Missing nacks mean our own messages are not getting through: blame ourselves, slow down.
        // With every nack in, the helpers reached us fine and the target is the likely culprit.
        if failed.expectedNacks > 0 {
            adjustHealth(max(failed.expectedNacks - failed.nacks, 0))
        } else {
            adjustHealth(+1)
        }
        guard let member = entries[failed.target]?.member, member.generation == failed.generation,
            member.status.isActive
        else { return }
        if member.status == .alive {
            stats.suspicionsRaised += 1
        }
        var claim = member
        claim.status = .suspect
        apply(claim, origin: myself.id, source: .gossip, now: now)
    }

    /// An ack: either for our own probe (direct or relayed by a helper) or for a probe we run for
    /// someone else, which we relay.
    mutating func handleAck(
        seq: UInt64,
        target: MemberID,
        targetGeneration: UInt64,
        coordinate: VivaldiCoordinate?,
        sender: Member,
        now: GossipTime
    ) {
        if let current = probe, current.seq == seq, current.target == target {
            probe = nil
            if sender.id == target {
                observeRTT(now - current.sentAt, peer: target, coordinate: coordinate)
                if now <= current.timeoutAt { adjustHealth(-1) }
            }
            return
        }
        guard let relay = relays[seq], relay.target == target, sender.id == target else { return }
        relays[seq] = nil
        observeRTT(now - relay.sentAt, peer: target, coordinate: coordinate)
        send(
            .ack(seq: relay.requesterSeq, target: target, targetGeneration: targetGeneration, coordinate: coordinate),
            to: relay.requester,
            receiver: relay.requesterID
        )
    }

    /// A ping request: probe the target on the requester's behalf.
    mutating func handlePingRequest(seq: UInt64, target: Member, requester: Member, replyTo: String, now: GossipTime) {
        stats.indirectProbesServed += 1
        if target.id == myself.id {
            send(
                .ack(seq: seq, target: myself.id, targetGeneration: myself.generation, coordinate: vivaldi.coordinate),
                to: replyTo,
                receiver: requester.id
            )
            return
        }
        // Bounded, so a flood of requests cannot grow the table without limit.
        guard target.id != requester.id, relays.count < 1024 else { return }
        var address = target.address
        if let known = entries[target.id]?.member, known.generation >= target.generation { address = known.address }
        guard !address.isEmpty else { return }
        let ownSeq = nextSequence()
        relays[ownSeq] = Relay(
            requester: replyTo,
            requesterID: requester.id,
            requesterSeq: seq,
            target: target.id,
            sentAt: now,
            nackAt: now + settings.probeTimeout * 0.8,
            expiresAt: now + settings.probeInterval * 2
        )
        send(
            .ping(seq: ownSeq, target: target.id, targetGeneration: target.generation),
            to: address,
            receiver: target.id
        )
    }

    /// Helpers that got no ack in time send a nack (Lifeguard); stale relays are dropped.
    mutating func expireRelays(now: GossipTime) {
        guard !relays.isEmpty else { return }
        for seq in relays.keys.sorted() {
            guard var relay = relays[seq] else { continue }
            if now >= relay.expiresAt {
                relays[seq] = nil
            } else if !relay.nackSent && now >= relay.nackAt {
                relay.nackSent = true
                relays[seq] = relay
                stats.nacksSent += 1
                send(
                    .nack(seq: relay.requesterSeq, target: relay.target),
                    to: relay.requester,
                    receiver: relay.requesterID
                )
            }
        }
    }

    mutating func handleNack(seq: UInt64, target: MemberID) {
        guard var current = probe, current.seq == seq, current.target == target, current.indirectSent else { return }
        stats.nacksReceived += 1
        current.nacks = min(current.nacks + 1, current.expectedNacks)
        probe = current
    }

    /// Feeds a direct round-trip sample to Vivaldi and remembers the peer's coordinate.
    mutating func observeRTT(_ rtt: GossipDuration, peer: MemberID, coordinate: VivaldiCoordinate?) {
        guard let coordinate, coordinate.isValid else { return }
        vivaldi.observe(rtt: rtt.seconds, from: peer, remote: coordinate)
        myself.coordinate = vivaldi.coordinate
        if entries[peer] != nil { entries[peer]?.member.coordinate = coordinate }
    }
}
