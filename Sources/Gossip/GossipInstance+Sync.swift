/// Anti-entropy: periodic push-pull, joining through seeds, re-dialing the dead, publishing load.
extension GossipInstance {
    /// Full state: self and every known member, dead and left ones included (they must spread too).
    func snapshot() -> [Member] {
        members
    }

    /// Every `pushPullInterval`, sync full state with one random alive member.
    mutating func pushPullRandomMember(now: GossipTime) {
        nextPushPullAt = now + settings.pushPullInterval
        let alive = memberIDs.filter { entries[$0]?.member.status == .alive }
        guard !alive.isEmpty, let peer = entries[alive[Int(random.next() % UInt64(alive.count))]]?.member else {
            return
        }
        stats.pushPullsSent += 1
        send(.pushPull(members: snapshot(), isResponse: false), to: peer.address, receiver: peer.id)
    }

    /// Every `reconnectInterval`: with no live peer, push-pull every seed (joining, or rejoining after
    /// losing everyone); otherwise push-pull one random dead member or unreached seed. The latter is
    /// what merges a healed partition whose halves declared each other dead.
    mutating func reconnect(now: GossipTime) {
        nextReconnectAt = now + settings.reconnectInterval
        if activeCount <= 1 {
            for seed in seeds {
                stats.pushPullsSent += 1
                send(.pushPull(members: snapshot(), isResponse: false), to: seed, receiver: nil)
            }
            return
        }
        var activeAddresses: Set<String> = []
        var candidates: [(address: String, id: MemberID?)] = []
        for id in memberIDs {
            guard let member = entries[id]?.member else { continue }
            if member.status.isActive {
                activeAddresses.insert(member.address)
            } else if member.status == .dead {
                candidates.append((member.address, id))
            }
        }
        for seed in seeds where !activeAddresses.contains(seed) && !candidates.contains(where: { $0.address == seed }) {
            candidates.append((seed, nil))
        }
        guard !candidates.isEmpty else { return }
        let pick = candidates[Int(random.next() % UInt64(candidates.count))]
        stats.pushPullsSent += 1
        send(.pushPull(members: snapshot(), isResponse: false), to: pick.address, receiver: pick.id)
    }

    /// Publishes a changed load by raising the incarnation (memberlist's way of updating metadata),
    /// so the new load is ordered after the old one everywhere.
    mutating func publishLoadIfDue(now: GossipTime) {
        guard pendingLoad != myself.load else { return }
        if let last = loadPublishedAt, now < last + settings.loadPublishInterval { return }
        loadPublishedAt = now
        myself.load = pendingLoad
        myself.incarnation = myself.incarnation.raised
        var record = myself
        record.coordinate = nil
        piggyback.enqueue(GossipUpdate(member: record, origin: myself.id), urgent: false)
    }

    /// Every `gossipInterval` while an urgent update is queued: send the queue's head to
    /// `gossipFanout` random active members, as memberlist's gossip does. Probes alone carry an
    /// update to one member per probe interval, which at 200 nodes let a refutation reach the
    /// last suspecting node only after its shortest suspicion timeout (a false death under 5%
    /// loss); with the fan-out the news spreads several times faster and stops when it is out.
    mutating func gossipIfUrgent(now: GossipTime) {
        nextGossipAt = now + settings.gossipInterval
        guard settings.gossipFanout > 0, piggyback.hasUrgent else { return }
        let candidates = memberIDs.filter { entries[$0]?.member.status.isActive == true }
        for member in randomMembers(min(settings.gossipFanout, candidates.count), of: candidates) {
            stats.gossipsSent += 1
            send(.gossip, to: member.address, receiver: member.id)
        }
    }
}
