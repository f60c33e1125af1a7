import Live
import Shard
import SimulationSupport
import Testing

extension SeedReplay {
    /// Seeds for the red-packet chaos runs: `REDPACKET_SEED=n` replays just that seed,
    /// `REPL_TRACE=1` narrates the replica set.
    static let redPackets = SeedReplay(variable: "REDPACKET_SEED", traceVariable: "REPL_TRACE")
}

/// Red packets sent and grabbed through the replication chaos simulation (`RedPacketChaos`): a
/// thousand seeds of the same faults as `ReplicationSimulationTests` (kills, restarts, power
/// losses, partitions, loss, duplication, reordering, slow nodes, transfers, replica changes,
/// failovers), the real session core deciding on the primary. A failing seed names itself;
/// replay it with `REDPACKET_SEED=n swift test --filter RedPacketChaos`.
@Suite struct RedPacketChaosTests {
    /// How many seeds a run takes: `REDPACKET_SEEDS=1000` for the issue's thousand (green, 3.3 min
    /// on two busy cores). The default is what the CI's time budget affords: a seed costs ~0.35 s
    /// of CPU in a debug build (~300 grabs, each an entry every replica decodes and applies, and
    /// ~2,000 client attempts), so 400 seeds are about 70 s of the unit pass on two cores.
    static let seedCount = SeedReplay.count("REDPACKET_SEEDS", default: 400)

    /// The seeds in 8 chunks, which Swift Testing runs in parallel.
    static let seedChunks = SeedReplay.redPackets.chunks(count: seedCount, offset: 100_000)

    static func replayHint(_ seed: UInt64) -> String {
        "replay: REDPACKET_SEED=\(seed) swift test --filter RedPacketChaos"
    }

    /// Runs one seed: the replication checker's violations, else the red-packet checks'.
    static func run(
        _ seed: UInt64
    ) -> (violations: [String], workload: RedPacketChaos, simulation: ReplicationSimulation) {
        let simulation = ReplicationSimulation(seed: seed, options: RedPacketChaos.simulationOptions)
        let workload = RedPacketChaos(simulation: simulation)
        var violations = simulation.run()
        if violations.isEmpty { violations = workload.check() }
        return (violations, workload, simulation)
    }

    /// No user is told two amounts for one packet, every amount told is the user's grab in the
    /// committed log, the log hands out each packet's split in order to distinct users and adds
    /// up, and every replica holds that log.
    @Test(arguments: seedChunks)
    func grabsAreAnsweredOnceAndAddUpUnderChaos(seeds: [UInt64]) {
        var stats = RedPacketChaos.Stats()
        var replication = ReplicationSimStats()
        for seed in seeds {
            let (violations, workload, simulation) = Self.run(seed)
            for violation in violations { Issue.record("\(violation) (\(Self.replayHint(seed)))") }
            if let openAtEnd = workload.openAtEnd { Issue.record("\(openAtEnd) (\(Self.replayHint(seed)))") }
            stats = stats + workload.stats
            replication = replication + simulation.stats
        }
        // The runs must really reach the hard paths: retried grabs, answers to abandoned attempts,
        // grabs lost to truncation, primaries dying among grabs, the end returning packets.
        if seeds.count >= 25 {
            #expect(stats.seeds == seeds.count)
            #expect(stats.retriedGrabs > 0 && stats.lateAnswers > 0 && stats.repeatedAnswers > 0, "\(stats)")
            #expect(stats.truncatedEvents > 0 && stats.raceKills > 0 && stats.outcomeUnknown > 0, "\(stats)")
            #expect(stats.endExpiries > 0 && stats.ttlExpiries > 0, "\(stats)")
            #expect(stats.fullPackets > 0 && stats.gone > 0, "\(stats)")
        }
        print("red packet chaos seeds \(seeds.first ?? 0)...\(seeds.last ?? 0): \(stats); \(replication)")
    }

    /// A seed replays exactly: same trace (client attempts and answers included), same log.
    @Test func sameSeedSameTrace() {
        let seed = SeedReplay.redPackets.replay ?? 100_042
        let first = Self.run(seed)
        let second = Self.run(seed)
        #expect(first.violations.isEmpty, "\(first.violations)")
        #expect(first.simulation.trace == second.simulation.trace)
        #expect(first.simulation.checker.committedLog == second.simulation.checker.committedLog)
        #expect(first.workload.stats.attempts > 100)
        let other = Self.run(seed + 1)
        #expect(other.simulation.trace != first.simulation.trace)
    }
}
