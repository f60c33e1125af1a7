import Gossip
import SimulationSupport
import Testing

@Suite struct PartitionTests {
    /// Both halves of a partition declare each other dead; after healing they merge into one.
    @Test(arguments: SeedReplay.gossip.list([51, 52, 53]))
    func healedPartitionMerges(seed: UInt64) {
        let size = 20
        let sim = Simulation.converged(seed: seed, count: size)
        let left = Array(0..<size / 2)
        let right = Array(size / 2..<size)
        sim.partition([left, right])
        let split = sim.run(for: 60, checkEvery: 0.25) { sim in
            left.allSatisfy { l in right.allSatisfy { sim.view(of: l, about: $0)?.status == .dead } }
                && right.allSatisfy { r in left.allSatisfy { sim.view(of: r, about: $0)?.status == .dead } }
        }
        guard let split else {
            Issue.record("seed \(seed): halves did not declare each other dead")
            return
        }
        #expect(sim.allAlive(left, observers: left) && sim.allAlive(right, observers: right), "seed \(seed)")
        sim.run(for: 5)
        sim.heal()
        let bound = 20.0
        let merged = sim.run(for: bound, checkEvery: 0.1) { $0.allAlive(Array(0..<size)) }
        print(
            "seed \(seed): halves split after \(split) s; merged \(merged.map { "\($0)" } ?? "never") s after heal (bound \(bound) s)"
        )
        #expect(merged != nil, "seed \(seed): partition did not merge within \(bound) s")
    }
}
