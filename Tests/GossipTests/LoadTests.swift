import Gossip
import Testing

@Suite struct LoadTests {
    /// A node's load reaches every member (published by raising its incarnation).
    @Test func loadSpreads() {
        let sim = Simulation.converged(seed: 91, count: 10)
        sim.setLoad(2, MemberLoad(sessions: 3, viewers: 40))
        let took = sim.run(for: 10, checkEvery: 0.05) { sim in
            sim.runningIndices.allSatisfy { sim.view(of: $0, about: 2)?.load == MemberLoad(sessions: 3, viewers: 40) }
        }
        #expect(took != nil)
        #expect(sim.allAlive(Array(0..<10)))
    }

    @Test func settingsBounds() {
        let settings = GossipSettings()
        #expect(settings.retransmitLimit(clusterSize: 9) == 4)
        #expect(settings.retransmitLimit(clusterSize: 200) == 12)
        #expect(abs(settings.minSuspicionTimeout(clusterSize: 100).seconds - 1.8) < 1e-6)
        #expect(abs(settings.maxSuspicionTimeout(clusterSize: 10).seconds - 5.4) < 1e-6)
        #expect(settings.worstCaseDetection > settings.worstCaseDetection(clusterSize: 10))
    }
}
