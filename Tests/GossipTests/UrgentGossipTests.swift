import Gossip
import Testing

/// The fan-out of urgent news (`GossipSettings.gossipInterval`): it runs while a join, suspicion,
/// death or refutation is queued and only then, so a quiet cluster, or one whose members only
/// publish load, sends no more than its probes.
@Suite struct UrgentGossipTests {
    /// Gossip-only messages sent by every node during `seconds` of `sim`.
    static func gossips(_ sim: Simulation, during seconds: Double, _ act: () -> Void = {}) -> Int {
        let before = sim.total { $0.gossipsSent }
        act()
        sim.run(for: seconds)
        return sim.total { $0.gossipsSent } - before
    }

    @Test func quietClusterAndLoadPublicationsSendNoGossip() {
        let sim = Simulation.converged(seed: 301, count: 12)
        // Let the start's joins go out (each is urgent and retransmitted a bounded number of times).
        sim.run(for: 30)
        #expect(Self.gossips(sim, during: 10) == 0, "a quiet cluster gossiped outside its probes")
        let published = Self.gossips(sim, during: 10) {
            for i in 0..<12 { sim.setLoad(i, MemberLoad(sessions: i + 1, viewers: 10 * i)) }
        }
        #expect(published == 0, "load publications started the urgent fan-out: \(published) gossips")
        #expect(
            sim.runningIndices.allSatisfy { sim.view(of: $0, about: 5)?.load == MemberLoad(sessions: 6, viewers: 50) }
        )
    }

    @Test func aKillIsGossipedUntilTheNewsIsOut() {
        let sim = Simulation.converged(seed: 302, count: 12)
        sim.run(for: 30)
        let during = Self.gossips(sim, during: 15) { sim.kill(4) }
        #expect(during > 0, "a death was never gossiped outside probes")
        #expect(sim.allSee(4, as: .dead), "not every survivor sees the killed node dead")
        // Once every update has gone out its retransmission limit, the fan-out stops.
        sim.run(for: 30)
        #expect(Self.gossips(sim, during: 10) == 0, "the fan-out kept running after the news was out")
    }
}
