import Gossip
import SimulationSupport
import Testing

extension Simulation {
    /// A cluster of `count` nodes, started and converged (fails the test with the seed otherwise).
    static func converged(
        seed: UInt64,
        count: Int,
        settings: GossipSettings = GossipSettings(),
        zones: @escaping (Int) -> Int = { _ in 0 },
        within bound: Double = 20
    ) -> Simulation {
        let sim = Simulation(seed: seed, nodeCount: count, settings: settings, zones: zones)
        sim.startAll()
        let took = sim.run(for: bound, checkEvery: 0.25) { $0.allAlive(Array(0..<count)) }
        if took == nil {
            Issue.record("seed \(seed): \(count) nodes did not converge within \(bound) s")
        }
        return sim
    }
}

extension SeedReplay {
    /// Seeds for the gossip simulation tests: `GOSSIP_SEED=1234` replays that one seed in every test.
    static let gossip = SeedReplay(variable: "GOSSIP_SEED")
}
