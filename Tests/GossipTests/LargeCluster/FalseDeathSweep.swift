import Foundation
import Gossip
import SimulationSupport
import Testing

/// The before/after sweep of ops/BENCHMARKS.md "Gossip at 1,000 nodes" (false deaths under 5%
/// loss): per seed, a cluster of QUNBO_GOSSIP_NODES (200) converges, then one fork runs a minute
/// of 5% loss and another a silent kill. QUNBO_GOSSIP_FANOUT (3) sets `gossipFanout`; 0 is the
/// protocol before the urgent fan-out. Seeds: QUNBO_GOSSIP_SEEDS ("1701,1,2,...,13").
/// `QUNBO_MEASURE=1 QUNBO_GOSSIP_FANOUT=0 swift test --filter FalseDeathSweep`
@Suite(.enabled(if: ProcessInfo.processInfo.environment["QUNBO_MEASURE"] == "1"))
struct FalseDeathSweep {
    @Test func sweep() {
        let env = ProcessInfo.processInfo.environment
        let n = LargeClusterMeasurement.knob("QUNBO_GOSSIP_NODES", 200)
        let fanout = LargeClusterMeasurement.knob("QUNBO_GOSSIP_FANOUT", 3)
        let seeds = (env["QUNBO_GOSSIP_SEEDS"] ?? "1701,1,2,3,4,5,6,7,8,9,10,11,12,13")
            .split(separator: ",").compactMap { UInt64($0) }
        var settings = GossipSettings()
        settings.gossipFanout = fanout
        print(
            "\n| seed | converged s | suspicions | false deaths | messages/s per node | silent kill: first dead / all dead s |"
        )
        print("|---|---|---|---|---|---|")
        for seed in seeds {
            let sim = Simulation(seed: seed, nodeCount: n, settings: settings)
            for i in 0..<n { sim.start(i) }
            let took = sim.run(for: 60, checkEvery: 0.5) { $0.allAlive(Array(0..<n)) }
            let lossy = sim.fork(seed: seed &+ 2)
            let sentBefore = lossy.total { $0.messagesSent }
            let loss = lossy.measureLoss(0.05, seconds: 60)
            let perNode = Double(lossy.total { $0.messagesSent } - sentBefore) / Double(n) / 60
            let killed = sim.fork(seed: seed &+ 1)
            let timing = killed.measureKill(Int(seed % UInt64(n - 1)) + 1, resetConnections: false, limit: 60)
            let kill =
                "\(timing.firstDead.map { String(format: "%.2f", $0) } ?? "-") / \(timing.allDead.map { String(format: "%.2f", $0) } ?? "-")"
            print(
                "| \(seed) | \(took.map { "\($0)" } ?? "no") | \(loss.suspicionsRaised) | \(loss.falseDeaths) | "
                    + "\(String(format: "%.1f", perNode)) | \(kill) |"
            )
            if let first = loss.firstFalseDeath { print("|  | \(first) |||||") }
        }
    }
}
