import Gossip
import SimulationSupport
import Testing

@Suite struct FailureDetectionTests {
    /// A killed node is declared dead by every survivor within `worstCaseDetection`.
    @Test(arguments: [(10, UInt64(11)), (10, 12), (10, 13), (50, 14), (50, 15)])
    func killedNodeIsDetectedWithinBound(size: Int, seed: UInt64) {
        for seed in SeedReplay.gossip.list([seed]) {
            let sim = Simulation.converged(seed: seed, count: size)
            let victim = size / 2
            sim.kill(victim)
            let bound = sim.settings.worstCaseDetection(clusterSize: size)
            let took = sim.run(for: bound + 5, checkEvery: 0.05) { $0.allSee(victim, as: .dead) }
            print(
                "seed \(seed): n=\(size) kill detected by all after \(took.map { "\($0)" } ?? "never") s, bound \(bound) s"
            )
            guard let took else {
                Issue.record("seed \(seed): n=\(size) victim not dead everywhere within \(bound + 5) s")
                continue
            }
            #expect(took <= bound, "seed \(seed): detection \(took) s exceeds bound \(bound) s")
            #expect(bound <= sim.settings.worstCaseDetection, "seed \(seed)")
            // Nobody else was declared dead.
            let survivors = sim.runningIndices
            #expect(sim.allAlive(survivors), "seed \(seed): a survivor is not alive everywhere")
        }
    }

    /// When the victim's connections reset (a real `kill -9`), every survivor probes it out of
    /// turn, suspicion is confirmed at once and shrinks to its minimum: all survivors list it dead
    /// within one probe interval plus the minimum suspicion timeout plus dissemination (stated
    /// as 2 probe intervals + min suspicion + 0.5 s), far inside `worstCaseDetection`.
    @Test(arguments: [(10, UInt64(61)), (10, 62), (50, 63)])
    func resetConnectionsSpeedDetection(size: Int, seed: UInt64) {
        for seed in SeedReplay.gossip.list([seed]) {
            let sim = Simulation.converged(seed: seed, count: size)
            let victim = size / 2
            sim.kill(victim, resetConnections: true)
            let settings = sim.settings
            let bound =
                2 * settings.probeInterval.seconds + settings.minSuspicionTimeout(clusterSize: size).seconds + 0.5
            let took = sim.run(for: bound + 10, checkEvery: 0.05) { $0.allSee(victim, as: .dead) }
            print(
                "seed \(seed): n=\(size) kill with resets detected by all after \(took.map { "\($0)" } ?? "never") s, bound \(bound) s"
            )
            guard let took else {
                Issue.record("seed \(seed): n=\(size) victim not dead everywhere")
                continue
            }
            #expect(took <= bound, "seed \(seed): detection \(took) s exceeds \(bound) s")
            #expect(sim.allAlive(sim.runningIndices), "seed \(seed): a survivor is not alive everywhere")
        }
    }

    /// With 10% loss on every link, suspicions happen but are refuted: nobody is declared dead.
    @Test(arguments: SeedReplay.gossip.list([21, 22]))
    func lossyNetworkNeverDeclaresTheLivingDead(seed: UInt64) {
        let sim = Simulation.converged(seed: seed, count: 40)
        sim.loss = 0.10
        sim.recordChanges = true
        sim.run(for: 60)
        let deaths = sim.changes.filter { $0.member.status == .dead }
        let suspicions = sim.changes.filter { $0.member.status == .suspect }.count
        print(
            "seed \(seed): 40 nodes, 10% loss, 60 s: \(suspicions) suspicions, \(sim.total { $0.suspicionsRefuted }) refuted, \(deaths.count) deaths, max health \(sim.nodes.compactMap { $0.instance?.localHealth }.max() ?? 0)"
        )
        if let first = deaths.first {
            Issue.record("seed \(seed): n\(first.observer) declared \(first.member.id) dead at \(first.time)")
        }
        sim.loss = 0
        let settled = sim.run(for: 20, checkEvery: 0.25) { $0.allAlive(Array(0..<40)) }
        #expect(settled != nil, "seed \(seed): not all alive after loss stopped")
    }

    /// An injected suspicion about a live node is refuted: it raises its incarnation, all see alive.
    @Test(arguments: SeedReplay.gossip.list([31, 32]))
    func suspicionOfLiveNodeIsRefuted(seed: UInt64) {
        let sim = Simulation.converged(seed: seed, count: 12)
        let accused = 5
        guard var claim = sim.view(of: 1, about: accused), let sender = sim.view(of: 1, about: 1) else {
            Issue.record("seed \(seed): no view")
            return
        }
        let before = claim.incarnation
        claim.status = .suspect
        claim.coordinate = nil
        let message = GossipMessage(
            sender: sender,
            kind: .nack(seq: 0, target: claim.id),
            updates: [GossipUpdate(member: claim, origin: sender.id)]
        )
        // Tell two bystanders, not the accused: it must learn of it through gossip.
        sim.inject(message, to: 2, from: sender.address)
        sim.inject(message, to: 3, from: sender.address)
        #expect(sim.view(of: 2, about: accused)?.status == .suspect, "seed \(seed)")
        let took = sim.run(for: 10, checkEvery: 0.05) { sim in
            guard let incarnation = sim.view(of: accused, about: accused)?.incarnation, incarnation > before else {
                return false
            }
            return sim.runningIndices.allSatisfy {
                let view = sim.view(of: $0, about: accused)
                return view?.status == .alive && view!.incarnation > before
            }
        }
        print("seed \(seed): suspicion refuted everywhere after \(took.map { "\($0)" } ?? "never") s")
        #expect(took != nil, "seed \(seed): suspicion not refuted")
        #expect(sim.total { $0.membersDeclaredDead } == 0, "seed \(seed)")
        #expect(sim.nodes[accused].instance!.stats.selfRefutations >= 1, "seed \(seed)")
    }

    /// A graceful leave is seen as `left`, never `dead`, and quickly.
    @Test(arguments: SeedReplay.gossip.list([41, 42]))
    func gracefulLeaveIsSeenAsLeft(seed: UInt64) {
        let sim = Simulation.converged(seed: seed, count: 15)
        sim.recordChanges = true
        let leaver = 7
        sim.leave(leaver)
        let took = sim.run(for: 5, checkEvery: 0.02) { $0.allSee(leaver, as: .left) }
        print("seed \(seed): leave seen by all after \(took.map { "\($0)" } ?? "never") s")
        #expect(took != nil && took! <= 1, "seed \(seed): leave took \(String(describing: took)) s")
        sim.kill(leaver)
        sim.run(for: 20)
        #expect(sim.allSee(leaver, as: .left), "seed \(seed): left member changed status later")
        let dead = sim.changes.filter { $0.member.id == sim.nodes[leaver].id && $0.member.status == .dead }
        #expect(dead.isEmpty, "seed \(seed): \(dead.count) nodes marked the leaver dead")
    }
}
