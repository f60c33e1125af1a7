import Gossip
import SimulationSupport
import Testing

@Suite struct DeterminismTests {
    /// The same seed produces an identical trace: kills, loss and partitions included.
    @Test func sameSeedSameTrace() {
        func run(_ seed: UInt64) -> (TraceHash, [Member]) {
            let sim = Simulation(seed: seed, nodeCount: 12)
            sim.loss = 0.05
            sim.startAll()
            sim.run(for: 5)
            sim.kill(3)
            sim.partition([[0, 1, 2, 4, 5], [6, 7, 8, 9, 10, 11]])
            sim.run(for: 8)
            sim.heal()
            sim.restart(3)
            sim.run(for: 5)
            return (sim.trace, sim.nodes[0].instance!.members)
        }
        let first = run(99)
        let second = run(99)
        #expect(first.0 == second.0)
        let sameView = first.1 == second.1
        #expect(sameView)
        #expect(first.0.events > 1000)
        let other = run(100)
        #expect(other.0 != first.0)
    }
}
