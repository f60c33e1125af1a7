import Gossip
import SimulationSupport
import Testing

@Suite struct RobustnessTests {
    /// Garbage-ish messages neither crash the instance nor corrupt its view.
    @Test(arguments: SeedReplay.gossip.list([81, 82]))
    func garbageDoesNotCorruptTheView(seed: UInt64) {
        let size = 8
        let sim = Simulation.converged(seed: seed, count: size)
        let observer = 0
        let victim = 3
        let before = sim.nodes[observer].instance!.members
        let real = sim.view(of: observer, about: victim)!
        let stranger = Member(id: MemberID("ghost"), address: "sim://ghost", generation: 1)

        var olderGeneration = real
        olderGeneration.generation = 0
        olderGeneration.incarnation = .max
        olderGeneration.status = .dead
        var aboutObserver = sim.view(of: observer, about: observer)!
        aboutObserver.generation = 0
        aboutObserver.incarnation = .max
        aboutObserver.status = .dead
        var badCoordinate = real
        badCoordinate.coordinate = VivaldiCoordinate(vec: [.nan], height: -1, error: .infinity, adjustment: 0)
        var ghostDead = stranger
        ghostDead.status = .dead
        var empty = stranger
        empty.id = MemberID("")
        empty.address = ""

        let messages: [GossipMessage] = [
            // Unknown sender with unknown targets.
            GossipMessage(
                sender: stranger,
                kind: .ack(seq: 999, target: MemberID("nobody"), targetGeneration: 9, coordinate: nil)
            ),
            GossipMessage(sender: stranger, kind: .nack(seq: 12345, target: MemberID("nobody"))),
            GossipMessage(sender: stranger, kind: .ping(seq: 1, target: MemberID("nobody"), targetGeneration: 1)),
            // A ping request for an unknown target.
            GossipMessage(
                sender: stranger,
                kind: .pingReq(seq: 5, target: Member(id: MemberID("void"), address: "sim://void", generation: 1))
            ),
            GossipMessage(sender: stranger, kind: .pingReq(seq: 6, target: empty)),
            // Absurd incarnations from an older generation, about a member and about the receiver.
            GossipMessage(
                sender: stranger,
                kind: .leave,
                updates: [
                    GossipUpdate(member: olderGeneration, origin: stranger.id),
                    GossipUpdate(member: aboutObserver, origin: stranger.id),
                    GossipUpdate(member: ghostDead, origin: stranger.id),
                    GossipUpdate(member: empty, origin: stranger.id),
                    GossipUpdate(member: badCoordinate, origin: stranger.id),
                ]
            ),
            GossipMessage(
                sender: olderGeneration,
                kind: .pushPull(members: [olderGeneration, aboutObserver], isResponse: false)
            ),
            GossipMessage(sender: empty, kind: .pushPull(members: [empty], isResponse: false)),
        ]
        for message in messages {
            sim.inject(message, to: observer, from: "sim://ghost")
        }
        let after = sim.nodes[observer].instance!.members
        // The stranger introduced itself (it said it is alive), nothing else changed.
        let known = after.filter { $0.id != stranger.id }
        #expect(known.map(\.id) == before.map(\.id), "seed \(seed)")
        #expect(sim.view(of: observer, about: victim)?.status == .alive, "seed \(seed)")
        #expect(sim.view(of: observer, about: victim)?.generation == real.generation, "seed \(seed)")
        #expect(sim.view(of: observer, about: victim)?.incarnation == real.incarnation, "seed \(seed)")
        #expect(sim.view(of: observer, about: observer)?.status == .alive, "seed \(seed)")
        #expect(after.allSatisfy { $0.coordinate?.isValid ?? true }, "seed \(seed)")
        #expect(sim.nodes[observer].instance!.member(MemberID("void")) == nil, "seed \(seed)")
        sim.run(for: 20)
        // The ghost never answers: it ends up dead; everyone real stays alive.
        for j in 0..<size {
            #expect(sim.view(of: observer, about: j)?.status == .alive, "seed \(seed): n\(j)")
        }
        #expect(sim.nodes[observer].instance!.member(stranger.id)?.status != .alive, "seed \(seed)")
    }

    /// Every message kind survives a JSON round trip (the shell's encoding).
    @Test func messagesAreCodable() throws {
        let member = Member(
            id: MemberID("a"),
            address: "http://a",
            zone: "z",
            generation: 1,
            coordinate: VivaldiCoordinate()
        )
        let kinds: [GossipMessage.Kind] = [
            .ping(seq: 1, target: member.id, targetGeneration: 1),
            .ack(seq: 1, target: member.id, targetGeneration: 1, coordinate: VivaldiCoordinate()),
            .pingReq(seq: 2, target: member),
            .nack(seq: 3, target: member.id),
            .pushPull(members: [member], isResponse: true),
            .leave,
        ]
        for kind in kinds {
            let message = GossipMessage(
                sender: member,
                kind: kind,
                updates: [GossipUpdate(member: member, origin: member.id)]
            )
            let data = try JSONEncoderShim.encode(message)
            #expect(try JSONEncoderShim.decode(data) == message)
        }
    }
}
