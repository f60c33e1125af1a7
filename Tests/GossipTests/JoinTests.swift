import Gossip
import SimulationSupport
import Testing

@Suite struct JoinTests {
    /// 200 nodes started together, all seeded with node 0, converge to one view of 200 alive.
    @Test(arguments: SeedReplay.gossip.list([1, 2]))
    func twoHundredNodesConvergeThroughOneSeed(seed: UInt64) {
        let bound = 20.0
        let sim = Simulation(seed: seed, nodeCount: 200)
        sim.startAll()
        let all = Array(0..<200)
        let took = sim.run(for: bound, checkEvery: 0.5) { $0.allAlive(all) }
        print("seed \(seed): 200-node join converged after \(took.map { "\($0)" } ?? "never") s (bound \(bound) s)")
        if took == nil {
            Issue.record("seed \(seed): 200 nodes did not converge within \(bound) s")
        }
        #expect(sim.total { $0.membersDeclaredDead } == 0, "seed \(seed)")
    }
}
