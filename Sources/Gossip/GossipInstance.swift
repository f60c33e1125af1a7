/// The SWIM + Lifeguard membership protocol of one node, as a pure value.
///
/// The shell feeds it events (`tick`, `receive`, `sendFailed`, `leave`) with the current time and
/// executes the returned directives; the instance owns no sockets, timers or clocks. Every random
/// choice comes from the caller-seeded `GossipRandom`, and nothing iterates a `Dictionary` or `Set`
/// where order could leak into the output, so a run is a pure function of its inputs.
public struct GossipInstance: Sendable {
    public let settings: GossipSettings
    /// This node's own record (status `left` after `leave`).
    public internal(set) var myself: Member
    /// Lifeguard local health in `0..<awarenessMax`; probe interval and timeout scale by `1 + health`.
    public internal(set) var localHealth = 0
    /// Local health from the shell's own measurement of how late its timers fire (a starved CPU),
    /// in `0..<awarenessMax`. Probe timing scales by `1 + max(localHealth, lagHealth)`, and a
    /// suspicion runs `1 + lagHealth` times its timeout: a node that knows it is late must not
    /// declare a member dead whose refutation may be waiting, unread, in its own socket.
    public var lagHealth = 0 {
        didSet { lagHealth = min(max(lagHealth, 0), max(settings.awarenessMax - 1, 0)) }
    }
    public internal(set) var stats = GossipStats()

    /// Every other member known, including dead and left ones until reclaimed.
    var entries: [MemberID: MemberEntry] = [:]
    /// `entries` keys in sorted order, for deterministic iteration and random picks.
    var memberIDs: [MemberID] = []
    /// Alive and suspect members, self included (SWIM's n).
    var activeCount = 1
    /// Members with a running suspicion timer.
    var suspects: Set<MemberID> = []

    let seeds: [String]
    var random: GossipRandom
    var vivaldi = VivaldiClient()
    var piggyback = PiggybackQueue()

    var probeOrder: [MemberID] = []
    var probeIndex = 0
    var probe: ProbeState?
    /// A member to probe next, out of turn: its connection just broke (`connectionLost`).
    var urgentProbe: MemberID?
    var nextProbeAt: GossipTime
    /// Probes run for others (ping requests), keyed by our own sequence number.
    var relays: [UInt64: Relay] = [:]
    var sequence: UInt64 = 0

    var nextPushPullAt: GossipTime
    var nextGossipAt: GossipTime
    var nextReconnectAt: GossipTime
    var nextReapAt: GossipTime
    var pendingLoad: MemberLoad
    var loadPublishedAt: GossipTime?
    var leaving = false

    /// Directives produced by the current call; returned and cleared by `flush()`.
    var outbox: [GossipDirective] = []

    public init(myself: Member, seeds: [String], settings: GossipSettings, random: GossipRandom, now: GossipTime) {
        var me = myself
        me.status = .alive
        me.coordinate = VivaldiCoordinate()
        self.myself = me
        self.settings = settings
        self.random = random
        var uniqueSeeds: [String] = []
        for seed in seeds where seed != me.address && !seed.isEmpty && !uniqueSeeds.contains(seed) {
            uniqueSeeds.append(seed)
        }
        self.seeds = uniqueSeeds
        self.pendingLoad = me.load
        // Spread the phases of nodes started together, so probes and syncs do not come in waves.
        self.nextProbeAt = now + settings.probeInterval * self.random.nextUnit()
        self.nextPushPullAt = now + settings.pushPullInterval * (0.5 + self.random.nextUnit())
        self.nextGossipAt = now + settings.gossipInterval * self.random.nextUnit()
        self.nextReconnectAt = now
        self.nextReapAt = now + .seconds(1)
    }

    // MARK: Queries

    /// All known members, self first, then by id.
    public var members: [Member] {
        var result = [myself]
        result.reserveCapacity(memberIDs.count + 1)
        for id in memberIDs {
            if let entry = entries[id] { result.append(entry.member) }
        }
        return result
    }

    public func member(_ id: MemberID) -> Member? {
        id == myself.id ? myself : entries[id]?.member
    }

    /// Estimated round-trip time to `id` in seconds, from Vivaldi coordinates; nil until the member's
    /// coordinate is known. An estimate for ranking, not evidence of reachability.
    public func rttEstimate(to id: MemberID) -> Double? {
        if id == myself.id { return 0 }
        guard let remote = entries[id]?.member.coordinate, remote.isValid else { return nil }
        return vivaldi.coordinate.distance(to: remote)
    }

    /// This node's own Vivaldi coordinate.
    public var coordinate: VivaldiCoordinate { vivaldi.coordinate }

    // MARK: Events

    /// Evaluates every timeout against `now`: probe and indirect-probe timeouts, suspicion expiry,
    /// push-pull, reconnect and reclaim. Call it at `nextTickAt` (or on a fixed beat of 20–50 ms).
    public mutating func tick(now: GossipTime) -> [GossipDirective] {
        guard !leaving else { return flush() }
        publishLoadIfDue(now: now)
        expireSuspicions(now: now)
        advanceProbe(now: now)
        expireRelays(now: now)
        if now >= nextGossipAt { gossipIfUrgent(now: now) }
        if now >= nextPushPullAt { pushPullRandomMember(now: now) }
        if now >= nextReconnectAt { reconnect(now: now) }
        if now >= nextReapAt { reap(now: now) }
        return flush()
    }

    /// When `tick` next has something to do: the earliest timer the core keeps (the probe in
    /// flight, the next probe, suspicions, relayed probes, gossip, push-pull, reconnect, reaping,
    /// a load to publish). A tick before then finds nothing due, so a shell can sleep until then
    /// instead of ticking on a fixed beat; every other call into the core may move it earlier,
    /// so the shell asks again after each. Nil while leaving: nothing is timed then.
    public var nextTickAt: GossipTime? {
        guard !leaving else { return nil }
        var next = min(nextGossipAt, nextPushPullAt, nextReconnectAt, nextReapAt)
        if pendingLoad != myself.load {
            next = min(next, loadPublishedAt.map { $0 + settings.loadPublishInterval } ?? .zero)
        }
        for id in suspects {
            if let suspicion = entries[id]?.suspicion { next = min(next, expiry(of: suspicion)) }
        }
        if let probe {
            next = min(next, probe.indirectSent ? probe.deadline : min(probe.timeoutAt, probe.deadline))
        } else {
            next = min(next, urgentProbe == nil ? nextProbeAt : .zero)
        }
        for relay in relays.values {
            next = min(next, relay.nackSent ? relay.expiresAt : min(relay.nackAt, relay.expiresAt))
        }
        return next
    }

    /// The shell could not deliver to `address` (refused or broken connection). A strong hint, used
    /// to start the indirect probe early, but never a verdict: only suspicion expiry declares death.
    public mutating func sendFailed(to address: String, now: GossipTime) -> [GossipDirective] {
        stats.sendFailures += 1
        if var current = probe, current.address == address, !current.indirectSent, !leaving {
            sendIndirectProbes(&current, now: now)
            probe = current
        }
        return flush()
    }

    /// The shell's persistent connection to `address` closed unexpectedly (a killed process's
    /// sockets are reset at once). That is a strong hint, not a verdict: the member is probed
    /// now, out of turn, and only a failed probe and the usual suspicion make it dead. Every
    /// survivor that saw the reset probes at once, so suspicion is confirmed independently and
    /// shrinks to its minimum (Lifeguard) instead of waiting for round-robin turns.
    public mutating func connectionLost(to address: String, now: GossipTime) -> [GossipDirective] {
        guard !leaving,
            let id = memberIDs.first(where: { entries[$0]?.member.address == address }),
            let member = entries[id]?.member, member.status == .alive || member.status == .suspect,
            probe?.target != id
        else { return flush() }
        urgentProbe = id
        advanceProbe(now: now)
        return flush()
    }

    /// Graceful leave: announce `left` with a raised incarnation to every active member, so they
    /// mark this node `left` (not dead) at once. Afterwards the instance only answers probes and
    /// syncs, with its `left` record.
    public mutating func leave(now: GossipTime) -> [GossipDirective] {
        guard !leaving else { return flush() }
        leaving = true
        myself.incarnation = myself.incarnation.raised
        myself.status = .left
        probe = nil
        outbox.append(.memberChanged(myself, previous: .alive))
        for id in memberIDs {
            guard let entry = entries[id], entry.member.status.isActive else { continue }
            send(.leave, to: entry.member.address, receiver: id)
        }
        return flush()
    }

    /// Sets the load to publish; it goes out on a later tick with a raised incarnation, at most
    /// once per `loadPublishInterval`.
    public mutating func setLoad(_ load: MemberLoad) {
        pendingLoad = load
    }

    // MARK: Plumbing

    mutating func flush() -> [GossipDirective] {
        defer { outbox.removeAll(keepingCapacity: true) }
        return outbox
    }

    mutating func nextSequence() -> UInt64 {
        sequence += 1
        return sequence
    }

    /// `count` (at most `candidates.count`) distinct members drawn at random from `candidates`,
    /// by a partial Fisher-Yates shuffle: the helpers of an indirect probe, the targets of a
    /// gossip fan-out.
    mutating func randomMembers(_ count: Int, of candidates: [MemberID]) -> [Member] {
        var pool = candidates
        var chosen: [Member] = []
        for i in 0..<count {
            let j = i + Int(random.next() % UInt64(pool.count - i))
            pool.swapAt(i, j)
            if let member = entries[pool[i]]?.member { chosen.append(member) }
        }
        return chosen
    }

    /// A duration scaled by Lifeguard's local health.
    func scaled(_ duration: GossipDuration) -> GossipDuration {
        duration * Double(1 + max(localHealth, lagHealth))
    }

    mutating func adjustHealth(_ delta: Int) {
        localHealth = min(max(localHealth + delta, 0), max(settings.awarenessMax - 1, 0))
    }

    /// Queues a message to `address`, piggybacking pending updates. If this node holds a claim
    /// against the receiver (suspect or dead), that claim rides first, so the receiver can refute
    /// it at once instead of waiting for gossip to reach it.
    mutating func send(_ kind: GossipMessage.Kind, to address: String, receiver: MemberID?) {
        var updates: [GossipUpdate] = []
        if let receiver, let claim = entries[receiver]?.member,
            claim.status == .suspect || claim.status == .dead
        {
            updates.append(GossipUpdate(member: claim.withoutCoordinate, origin: myself.id))
        }
        switch kind {
        case .pushPull, .leave:
            break
        default:
            updates += piggyback.take(
                limit: settings.maxPiggyback - updates.count,
                retransmitLimit: settings.retransmitLimit(clusterSize: activeCount),
                excluding: receiver
            )
        }
        var sender = myself
        sender.coordinate = vivaldi.coordinate
        outbox.append(.send(GossipMessage(sender: sender, kind: kind, updates: updates), to: address))
        stats.messagesSent += 1
    }
}

/// What this node keeps about another member.
struct MemberEntry: Sendable {
    var member: Member
    var suspicion: Suspicion?
    /// When the status last changed; dead and left members are reclaimed relative to it.
    var changedAt: GossipTime
}

/// The probe in flight: one per probe interval.
struct ProbeState: Sendable {
    var target: MemberID
    var generation: UInt64
    var address: String
    var seq: UInt64
    var sentAt: GossipTime
    /// End of the direct phase; then the indirect probes go out.
    var timeoutAt: GossipTime
    /// End of the probe: without an ack by now the target becomes suspect.
    var deadline: GossipTime
    var indirectSent = false
    var expectedNacks = 0
    var nacks = 0
}

/// A probe run on behalf of another member's ping request.
struct Relay: Sendable {
    var requester: String
    var requesterID: MemberID
    var requesterSeq: UInt64
    var target: MemberID
    var sentAt: GossipTime
    var nackAt: GossipTime
    var expiresAt: GossipTime
    var nackSent = false
}

extension UInt64 {
    /// +1, saturating: an absurd incarnation from the wire must not trap.
    var raised: UInt64 { self == .max ? .max : self + 1 }
}
