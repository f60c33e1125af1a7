import Shard
import Testing

/// Chaos runs of the replica set: a thousand seeds of ~300 ms of faults then ~450 ms of healing
/// (virtual time). Replay one with `REPL_SEED=n swift test --filter ReplicationSimulation`.
@Suite struct ReplicationSimulationTests {
    /// 1,000 seeds in 8 chunks, which Swift Testing runs in parallel.
    static let seedChunks: [[UInt64]] = {
        let seeds = ReplicationSeeds.list(count: 1_000)
        let size = max(1, (seeds.count + 7) / 8)
        return stride(from: 0, to: seeds.count, by: size).map { Array(seeds[$0..<min(seeds.count, $0 + size)]) }
    }()

    /// The bound on recovery: from healing (every node restarted, network whole) to the first commit
    /// of a new write. Restarted nodes first wait out stickiness and an election timeout (≤ 100 ms)
    /// and may need a couple of rounds, so 8 maximal election timeouts.
    static let recoveryBound = ReplicationDuration.milliseconds(800)

    @Test(arguments: seedChunks)
    func invariantsHoldUnderChaos(seeds: [UInt64]) {
        var worstRecovery = ReplicationDuration.zero
        var stats = ReplicationSimulation.Stats()
        for seed in seeds {
            let simulation = ReplicationSimulation(seed: seed)
            let violations = simulation.run()
            stats = stats + simulation.stats
            for violation in violations { Issue.record("\(violation)") }
            guard violations.isEmpty else { continue }
            let recovery = simulation.recoveryTime ?? .zero
            worstRecovery = max(worstRecovery, recovery)
            if recovery > Self.recoveryBound {
                Issue.record("seed \(seed): recovery took \(recovery), bound \(Self.recoveryBound)")
            }
            #expect(simulation.checker.acknowledged.count > 0, "seed \(seed): nothing was acknowledged")
        }
        print(
            "replication chaos seeds \(seeds.first ?? 0)...\(seeds.last ?? 0): worst recovery \(worstRecovery), \(stats)"
        )
    }

    @Test func sameSeedSameTrace() {
        let seed = ReplicationSeeds.replay ?? 4_242
        let first = ReplicationSimulation(seed: seed)
        let second = ReplicationSimulation(seed: seed)
        #expect(first.run().isEmpty)
        #expect(second.run().isEmpty)
        #expect(first.trace == second.trace)
        #expect(first.trace.events > 100)
        let other = ReplicationSimulation(seed: seed + 1)
        _ = other.run()
        #expect(other.trace != first.trace)
    }

    /// Without faults the write stream commits steadily and nothing is lost or repeated.
    @Test func faultFreeRunCommitsEveryWrite() {
        var options = ReplicationSimulation.Options()
        options.faults = false
        let simulation = ReplicationSimulation(seed: 7, options: options)
        #expect(simulation.run().isEmpty)
        #expect(simulation.checker.acknowledged.count == simulation.checker.proposedCount)
        #expect(simulation.checker.primaries.count == 1)
    }
}
