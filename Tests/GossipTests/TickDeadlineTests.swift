import Gossip
import SimulationSupport
import Testing

/// `GossipInstance.nextTickAt` is when the shell wakes the core (no fixed beat): a tick before
/// it must find nothing to do, through joins, kills with and without reset connections, loss,
/// a partition and its healing, load changes and a leave. The simulation ticks every node every
/// 20 ms regardless and records any tick that sent or changed something before that time.
@Suite struct TickDeadlineTests {
    @Test(arguments: SeedReplay.gossip.list([71, 72, 73]))
    func noTickBeforeNextTickAtHasWork(seed: UInt64) {
        let sim = Simulation.converged(seed: seed, count: 12)
        sim.setLoad(3, MemberLoad(sessions: 2, viewers: 40))
        sim.run(for: 3)
        sim.kill(4, resetConnections: true)
        sim.kill(5)
        sim.loss = 0.05
        sim.run(for: 15)
        #expect(sim.allSee(5, as: .dead), "seed \(seed): the kill was detected")
        sim.loss = 0
        sim.partition([[0, 1, 2, 3, 6], [7, 8, 9, 10, 11]])
        sim.run(for: 10)
        sim.heal()
        sim.setLoad(3, MemberLoad(sessions: 3, viewers: 90))
        sim.restart(4)
        sim.run(for: 20)
        sim.leave(11)
        sim.run(for: 5)
        #expect(sim.allSee(11, as: .left), "seed \(seed): the leave spread")
        #expect(sim.earlyWork.isEmpty, "seed \(seed): \(sim.earlyWork.prefix(5))")
    }

    /// The deadline is a time the core really acts at: a lone node's next tick is its first
    /// reconnect to the seeds, then its reap or probe times, never "now" forever.
    @Test func aQuietNodeSleepsBetweenTimers() {
        let sim = Simulation.converged(seed: 74, count: 3)
        sim.run(for: 2)
        let next = sim.nodes[0].instance?.nextTickAt
        #expect(next != nil)
        if let next { #expect(next > sim.now, "due in the future, not at once") }
    }
}
