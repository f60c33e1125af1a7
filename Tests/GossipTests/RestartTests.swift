import Gossip
import SimulationSupport
import Testing

@Suite struct RestartTests {
    /// A restarted node (same id, new generation) is accepted as alive by everyone, and messages
    /// from its old generation no longer alter its entry.
    @Test(arguments: SeedReplay.gossip.list([61, 62]))
    func restartedNodeIsAcceptedAndOldGenerationFenced(seed: UInt64) {
        let size = 12
        let sim = Simulation.converged(seed: seed, count: size)
        let node = 4
        guard let oldSelf = sim.view(of: node, about: node) else {
            Issue.record("seed \(seed): no view")
            return
        }
        sim.kill(node)
        sim.run(for: 0.5)
        sim.restart(node)
        let took = sim.run(for: 15, checkEvery: 0.05) { $0.allAlive(Array(0..<size)) }
        print("seed \(seed): restarted node accepted by all after \(took.map { "\($0)" } ?? "never") s")
        #expect(took != nil, "seed \(seed): restarted node not accepted")
        #expect(sim.view(of: 0, about: node)?.generation == 2, "seed \(seed)")

        // Stale traffic from the old generation: a ping, an ack, a push-pull claiming it alive at a
        // huge incarnation, and gossip claiming the old generation dead.
        var staleAlive = oldSelf
        staleAlive.incarnation = 1_000_000
        var staleDead = oldSelf
        staleDead.status = .dead
        staleDead.incarnation = 1_000_000
        let observer = 1
        let target = sim.nodes[observer].id
        let before = sim.view(of: observer, about: node)
        let messages = [
            GossipMessage(sender: staleAlive, kind: .ping(seq: 1, target: target, targetGeneration: 1)),
            GossipMessage(
                sender: staleAlive,
                kind: .ack(seq: 1, target: oldSelf.id, targetGeneration: 1, coordinate: nil)
            ),
            GossipMessage(sender: staleAlive, kind: .pushPull(members: [staleAlive], isResponse: false)),
            GossipMessage(
                sender: sim.view(of: 2, about: 2)!,
                kind: .leave,
                updates: [GossipUpdate(member: staleDead, origin: MemberID("n2"))]
            ),
        ]
        for message in messages {
            sim.inject(message, to: observer, from: oldSelf.address)
        }
        #expect(sim.view(of: observer, about: node) == before, "seed \(seed): stale generation altered the entry")
        #expect(sim.nodes[observer].instance!.stats.staleMessagesDropped >= 3, "seed \(seed)")
        // The new generation ignores a ping addressed to a newer one (it would be the stale one).
        sim.run(for: 5)
        #expect(sim.allAlive(Array(0..<size)), "seed \(seed): view changed after stale traffic")
        #expect(sim.view(of: 0, about: node)?.generation == 2, "seed \(seed)")
    }

    /// A probe addressed to an old generation is answered by the new one; one addressed to a newer
    /// generation than the receiver's is ignored.
    @Test func pingForOtherGenerations() {
        var settings = GossipSettings()
        settings.probeInterval = .seconds(1000)
        let me = Member(id: MemberID("a"), address: "a", generation: 5)
        var instance = GossipInstance(
            myself: me,
            seeds: [],
            settings: settings,
            random: GossipRandom(seed: 1),
            now: .zero
        )
        let peer = Member(id: MemberID("b"), address: "b", generation: 1)
        let old = instance.receive(
            GossipMessage(sender: peer, kind: .ping(seq: 7, target: me.id, targetGeneration: 4)),
            from: "b",
            now: .seconds(1)
        )
        #expect(
            old.contains {
                if case .send(let message, "b") = $0, case .ack(7, _, 5, _) = message.kind { return true }
                return false
            }
        )
        let newer = instance.receive(
            GossipMessage(sender: peer, kind: .ping(seq: 8, target: me.id, targetGeneration: 6)),
            from: "b",
            now: .seconds(2)
        )
        #expect(
            !newer.contains {
                if case .send(let message, _) = $0, case .ack = message.kind { return true }
                return false
            }
        )
    }
}
