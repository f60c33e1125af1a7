import Gossip
import SimulationSupport
import Testing

@Suite struct VivaldiTests {
    /// Three zones, 1 ms one way inside a zone (2 ms RTT), 20 ms across (40 ms RTT): after a while
    /// every node's estimate of every other is within 25% or 5 ms of the true RTT.
    @Test(arguments: SeedReplay.gossip.list([71, 72]))
    func estimatesMatchTopology(seed: UInt64) {
        let size = 15
        let sim = Simulation(seed: seed, nodeCount: size, zones: { $0 % 3 })
        sim.linkDelay = { $0 == $1 ? 0.001 : 0.020 }
        sim.jitter = 0.1
        sim.startAll()
        sim.run(for: 60)
        var worst = 0.0
        var failures = 0
        for i in 0..<size {
            for j in 0..<size where i != j {
                let truth = i % 3 == j % 3 ? 0.002 : 0.040
                guard let estimate = sim.nodes[i].instance?.rttEstimate(to: sim.nodes[j].id) else {
                    failures += 1
                    continue
                }
                let error = abs(estimate - truth)
                worst = max(worst, error / truth)
                if error > max(0.25 * truth, 0.005) { failures += 1 }
            }
        }
        print("seed \(seed): Vivaldi worst relative error \(worst), \(failures) pairs out of tolerance")
        #expect(failures == 0, "seed \(seed): \(failures) RTT estimates off by more than 25% / 5 ms")
    }

    @Test func coordinateBasics() {
        var a = VivaldiCoordinate()
        let b = VivaldiCoordinate()
        #expect(a.distance(to: b) < 0.001)
        for _ in 0..<200 {
            a.update(rtt: 0.05, remote: b)
        }
        #expect(abs(a.distance(to: b) - 0.05) < 0.01)
        // Garbage input is ignored.
        let before = a
        a.update(rtt: .nan, remote: b)
        a.update(rtt: 0.01, remote: VivaldiCoordinate(vec: [1], height: 0, error: 1, adjustment: 0))
        #expect(a == before)
    }
}
