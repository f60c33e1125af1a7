/// Applying membership claims: the ordering rules, suspicion bookkeeping and refutation.
extension GossipInstance {
    /// Where a claim came from; it decides how much the claim is trusted.
    enum ClaimSource {
        /// The member's own record, carried as `sender` of a message it sent us.
        case direct
        /// A piggybacked update, or a verdict of this node's own probing.
        case gossip
        /// An entry of a full-state sync.
        case pushPull
    }

    /// Applies one claim about a member. Claims about a lower generation than known are ignored;
    /// otherwise the record wins if it supersedes ours (see `Member.supersedes`).
    mutating func apply(_ claim: Member, origin: MemberID, source: ClaimSource, now: GossipTime) {
        if claim.id == myself.id {
            applyAboutSelf(claim)
            return
        }
        guard !claim.address.isEmpty, !claim.id.rawValue.isEmpty else { return }
        var record = claim
        if let coordinate = record.coordinate, !coordinate.isValid { record.coordinate = nil }
        if source == .pushPull && record.status == .dead {
            // As memberlist's mergeState: a remote verdict of death is only a suspicion here, so a
            // member that is in fact alive (the far side of a healed partition) gets to refute it.
            record.status = .suspect
        }
        guard let existing = entries[record.id] else {
            // Only the living are introduced: claims of suspicion or death about a member we never
            // knew (or already forgot) would only resurrect stale state.
            if record.status == .alive { store(record, previous: nil, origin: origin, now: now) }
            return
        }
        let old = existing.member
        guard record.supersedes(old) else {
            if record.generation == old.generation {
                if source == .direct, let coordinate = record.coordinate {
                    entries[record.id]?.member.coordinate = coordinate
                }
                // A sync relays what the peer heard, not what it saw: it confirms nothing.
                if source != .pushPull, record.status == .suspect, old.status == .suspect,
                    record.incarnation == old.incarnation,
                    entries[record.id]?.suspicion?.confirm(origin) == true
                {
                    // A new independent confirmation: pass it on so others shorten their timers too.
                    piggyback.enqueue(GossipUpdate(member: old.withoutCoordinate, origin: origin), urgent: true)
                }
            }
            return
        }
        if record.generation == old.generation {
            // A coordinate is best first-hand: the member's own overrides ours, a third party's only
            // fills a gap.
            if source == .direct {
                record.coordinate = record.coordinate ?? old.coordinate
            } else {
                record.coordinate = old.coordinate ?? record.coordinate
            }
        }
        if old.status == .suspect && record.status == .alive && record.generation == old.generation {
            stats.suspicionsRefuted += 1
        }
        store(record, previous: old, origin: origin, now: now)
    }

    /// A claim about this node. Within its own generation, any claim that it is suspect, dead or
    /// left (while it is not leaving) is refuted by raising the incarnation above the claim's and
    /// gossiping `alive`. Claims about other generations are ignored: a lower one is history, a
    /// higher one means a newer process owns the id and this one is stale.
    mutating func applyAboutSelf(_ claim: Member) {
        guard claim.generation == myself.generation, !leaving else { return }
        switch claim.status {
        case .alive:
            if claim.incarnation > myself.incarnation { refute(above: claim.incarnation) }
        case .suspect, .dead, .left:
            if claim.incarnation >= myself.incarnation {
                refute(above: claim.incarnation)
                // Lifeguard: being suspected hints that this node is slow to answer.
                adjustHealth(+1)
            }
        }
    }

    mutating func refute(above incarnation: UInt64) {
        myself.incarnation = max(myself.incarnation, incarnation.raised)
        stats.selfRefutations += 1
        var record = myself
        record.coordinate = nil
        piggyback.enqueue(GossipUpdate(member: record, origin: myself.id), urgent: true)
    }

    /// Stores a winning record: keeps the indexes, suspicion timer and counters in step, reports the
    /// change to the shell and queues the record for piggybacking.
    mutating func store(_ member: Member, previous: Member?, origin: MemberID, now: GossipTime) {
        let id = member.id
        var entry = entries[id] ?? MemberEntry(member: member, suspicion: nil, changedAt: now)
        entry.member = member
        if previous?.status != member.status || previous?.generation != member.generation {
            entry.changedAt = now
        }
        if member.status == .suspect {
            let restart =
                previous?.status != .suspect || previous?.incarnation != member.incarnation
                || previous?.generation != member.generation || entry.suspicion == nil
            if restart { entry.suspicion = makeSuspicion(accuser: origin, now: now) }
            suspects.insert(id)
        } else {
            entry.suspicion = nil
            suspects.remove(id)
        }
        entries[id] = entry

        if previous?.status.isActive == true { activeCount -= 1 }
        if member.status.isActive { activeCount += 1 }
        if previous == nil {
            insertSorted(id)
            // As memberlist: a new member goes to a random place in the rest of this probe round.
            let position = probeIndex + Int(random.next() % UInt64(probeOrder.count - probeIndex + 1))
            probeOrder.insert(id, at: min(position, probeOrder.count))
        }
        if let previous {
            if previous.status != member.status || previous.generation != member.generation
                || previous.address != member.address || previous.zone != member.zone || previous.load != member.load
            {
                outbox.append(.memberChanged(member, previous: previous.status))
            }
        } else {
            outbox.append(.memberChanged(member, previous: nil))
        }
        // Urgent unless it only carries a new load: a status or generation change, a join, or an
        // incarnation raised with the same load (a refutation, which those still holding the
        // member suspect must hear before their timers run out).
        let urgent =
            previous.map {
                $0.status != member.status || $0.generation != member.generation
                    || ($0.incarnation != member.incarnation && $0.load == member.load)
            } ?? true
        piggyback.enqueue(GossipUpdate(member: member.withoutCoordinate, origin: origin), urgent: urgent)
    }

    func makeSuspicion(accuser: MemberID, now: GossipTime) -> Suspicion {
        let n = activeCount
        var expected = settings.suspicionConfirmations
        if n - 2 < expected { expected = 0 }
        return Suspicion(
            start: now,
            accuser: accuser,
            expected: expected,
            minimum: settings.minSuspicionTimeout(clusterSize: n),
            maximum: settings.maxSuspicionTimeout(clusterSize: n)
        )
    }

    /// Suspects whose timer ran out become dead (at the same incarnation, so only the member itself
    /// can overturn it) and the verdict is gossiped.
    mutating func expireSuspicions(now: GossipTime) {
        guard !suspects.isEmpty else { return }
        var expired: [MemberID] = []
        for id in suspects {
            guard let suspicion = entries[id]?.suspicion else { continue }
            if now >= expiry(of: suspicion) { expired.append(id) }
        }
        for id in expired.sorted() {
            guard let old = entries[id]?.member, old.status == .suspect else { continue }
            var record = old
            record.status = .dead
            stats.membersDeclaredDead += 1
            store(record, previous: old, origin: myself.id, now: now)
        }
    }

    /// When `suspicion` runs out: its deadline, stretched while this node is itself late.
    func expiry(of suspicion: Suspicion) -> GossipTime {
        lagHealth == 0 ? suspicion.deadline : suspicion.start + suspicion.timeout * Double(1 + lagHealth)
    }

    mutating func insertSorted(_ id: MemberID) {
        var low = 0
        var high = memberIDs.count
        while low < high {
            let mid = (low + high) / 2
            if memberIDs[mid] < id { low = mid + 1 } else { high = mid }
        }
        memberIDs.insert(id, at: low)
    }

    /// Forgets dead and left members after their reclaim time (checked once a second).
    mutating func reap(now: GossipTime) {
        nextReapAt = now + .seconds(1)
        var kept: [MemberID] = []
        kept.reserveCapacity(memberIDs.count)
        for id in memberIDs {
            guard let entry = entries[id] else { continue }
            let age = now - entry.changedAt
            let forget =
                (entry.member.status == .dead && age >= settings.deadReclaimTime)
                || (entry.member.status == .left && age >= settings.leftReclaimTime)
            if forget {
                entries[id] = nil
                vivaldi.forget(id)
            } else {
                kept.append(id)
            }
        }
        memberIDs = kept
    }
}
