import Gossip
import Shard

/// The real SWIM core as the replica set's failure detector: one `GossipInstance` per running
/// process, on the simulation's clock and network, and the shell's rule that turns its verdicts
/// into `primaryLost`.
extension ReplicationSimulation {
    /// The LAN defaults scaled down 30x, like `fastSettings`, so a dead primary is suspected in a
    /// few probe intervals (10–40 ms), before the 50–100 ms fallback election timeout: gossip, not
    /// the timeout, drives failover, as it does in production (300 ms probes, 300–600 ms timeout).
    static var fastGossipSettings: GossipSettings {
        var settings = GossipSettings()
        settings.probeInterval = .milliseconds(10)
        settings.probeTimeout = .milliseconds(3)
        settings.pushPullInterval = .milliseconds(150)
        settings.reconnectInterval = .milliseconds(60)
        settings.deadReclaimTime = .seconds(120)
        settings.leftReclaimTime = .seconds(2)
        settings.loadPublishInterval = .milliseconds(30)
        return settings
    }

    var gossipNow: GossipTime { GossipTime(nanoseconds: now.nanoseconds) }

    func gossipAddress(_ i: Int) -> String { gossipAddresses[i] }

    func gossipIndex(of address: String) -> Int? {
        var i = 0
        while i < gossipAddresses.count {
            if gossipAddresses[i] == address { return i }
            i += 1
        }
        return nil
    }

    /// A process (re)starts its membership core: a fresh instance whose generation is above every
    /// earlier life of the node (that is how the core fences a restarted process), with every other
    /// node as a seed, seeded from the simulation's generator.
    func startGossip(_ i: Int) {
        let myself = Member(id: MemberID(nodes[i].id), address: gossipAddress(i), generation: nodes[i].generation + 1)
        nodes[i].gossip = GossipInstance(
            myself: myself,
            seeds: nodes.indices.filter { $0 != i }.map(gossipAddress),
            settings: options.gossip,
            random: GossipRandom(seed: random.next()),
            now: gossipNow
        )
    }

    func deliverGossip(_ message: GossipMessage, from: Int, to: Int) {
        guard nodes[to].gossip != nil else { return }
        stats.gossipDelivered += 1
        trace.record(14, UInt64(from) << 8 | UInt64(to), message.kind.traceTag)
        executeGossip(nodes[to].gossip!.receive(message, from: gossipAddress(from), now: gossipNow), at: to)
    }

    func executeGossip(_ directives: [GossipDirective], at i: Int) {
        for directive in directives {
            switch directive {
            case .send(let message, let address):
                sendGossip(message, from: i, to: address)
            case .memberChanged(let member, _):
                trace.record(15, UInt64(i), member.generation, member.incarnation, member.status.traceWord)
                trace.mix(UInt64(index(of: member.id.rawValue) ?? 99))
                if member.status == .suspect { stats.suspicions += 1 }
                if member.status != .alive, !options.useDirectory { gossipLost(member, at: i) }
            }
        }
        // The shell's view changed: the directory decides what follows (a campaign when the
        // primary of a copy here is no longer alive).
        if options.useDirectory, directives.contains(where: { if case .memberChanged = $0 { true } else { false } }) {
            directoryViewChanged(i)
        }
    }

    /// The shell's rule: gossip marked `member` suspect, dead or left, and it is the primary this
    /// node's replica follows, so the replica campaigns now instead of waiting for its timeout.
    private func gossipLost(_ member: Member, at i: Int) {
        guard let replica = nodes[i].replica, replica.role != .primary, replica.primary == member.id.rawValue,
            let p = index(of: member.id.rawValue)
        else { return }
        stats.primaryLostCalls += 1
        if nodes[p].alive && connected(i, p) {
            // Up and reachable: loss, delay or a slow node fooled the detector.
            stats.falseSuspicions += 1
            if healTime != nil { stats.falseSuspicionsHealed += 1 }
        } else if let killedAt = nodes[p].killedAt, !nodes[p].alive {
            stats.recordDetection(now - killedAt)
        }
        log("n\(i): gossip says primary \(member.id) is \(member.status) (gen \(member.generation))")
        trace.record(2, UInt64(i), UInt64(p))
        execute(nodes[i].replica!.primaryLost(now: now), at: i)
    }
}

extension MemberStatus {
    /// A stable number for the trace (`hashValue` is seeded per process).
    var traceWord: UInt64 {
        switch self {
        case .alive: 0
        case .suspect: 1
        case .dead: 2
        case .left: 3
        }
    }
}

extension GossipMessage.Kind {
    var traceTag: UInt64 {
        switch self {
        case .ping(let seq, _, _): 1 &+ seq << 8
        case .ack(let seq, _, _, _): 2 &+ seq << 8
        case .pingReq(let seq, _): 3 &+ seq << 8
        case .nack(let seq, _): 4 &+ seq << 8
        case .pushPull(let members, let isResponse): 5 &+ (isResponse ? 8 : 0) &+ UInt64(members.count) << 8
        case .leave: 6
        case .gossip: 7
        }
    }
}
