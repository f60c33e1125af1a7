import Shard
import SimulationSupport
import Testing

/// The chaos runs with failing disks added to the fault mix (a node's every write fails for
/// 5-80 ms, as on a full disk), on top of kills, partitions and power losses. Deterministic from
/// the seed; replay one with `REPL_SEED=n swift test --filter ReplicationStorageSimulation`.
@Suite struct ReplicationStorageSimulationTests {
    static let seedChunks: [[UInt64]] = {
        let seeds = SeedReplay.replication.list(count: 300, offset: 50_000)
        let size = max(1, (seeds.count + 3) / 4)
        return stride(from: 0, to: seeds.count, by: size).map { Array(seeds[$0..<min(seeds.count, $0 + size)]) }
    }()

    /// No acknowledged write is lost (the checker's invariants and final check), and after healing
    /// every member's disk holds the same log as every other, the whole committed log.
    @Test(arguments: seedChunks)
    func failingDisksLoseNothing(seeds: [UInt64]) {
        var stats = ReplicationSimStats()
        for seed in seeds {
            var options = ReplicationSimulation.Options()
            options.diskFailures = true
            let simulation = ReplicationSimulation(seed: seed, options: options)
            let violations = simulation.run()
            stats = stats + simulation.stats
            for violation in violations {
                Issue.record(
                    "\(violation) (replay: REPL_SEED=\(seed) swift test --filter ReplicationStorageSimulation)"
                )
            }
            guard violations.isEmpty, let p = simulation.currentPrimary() else { continue }
            simulation.flushDisks()
            let primary = simulation.nodes[p].replica!
            let reference = simulation.diskLog(p)
            #expect(reference.count == Int(primary.lastSeq), "seed \(seed): primary's disk lacks entries")
            for id in primary.members {
                let i = simulation.index(of: id)!
                #expect(!simulation.nodes[i].diskPoisoned, "seed \(seed): n\(i) never recovered its disk")
                #expect(simulation.nodes[i].replica?.storageFailed == false, "seed \(seed): n\(i) still failed")
                let disk = simulation.diskLog(i)
                #expect(
                    Array(disk.prefix(reference.count)) == reference,
                    "seed \(seed): n\(i)'s disk log differs from the primary's"
                )
            }
            #expect(simulation.checker.acknowledged.count > 0, "seed \(seed): nothing was acknowledged")
        }
        if seeds.count >= 50 {
            #expect(stats.diskWriteFailures > 0 && stats.diskRecoveries > 0, "no disk failed: \(stats)")
        }
        print("storage chaos seeds \(seeds.first ?? 0)...\(seeds.last ?? 0): \(stats)")
    }
}
