import Shard
import SimulationSupport
import Testing

/// The directory invariants of the replication simulation can fail: with a rule broken on purpose,
/// some of 200 chaos seeds report a violation. Without this, a check that can never fire would
/// pass the 1,000 seeds just as well.
@Suite struct ReplicationDirectoryMutationTests {
    /// How many of `seeds` report a violation under `options`.
    static func violating(_ options: ReplicationSimulation.Options, seeds: Range<UInt64>) -> (Int, String?) {
        var count = 0
        var first: String?
        for seed in seeds {
            let violations = ReplicationSimulation(seed: seed, options: options).run()
            if !violations.isEmpty {
                count += 1
                if first == nil { first = violations.first }
            }
        }
        return (count, first)
    }

    /// The shell calls itself joined from the start (the lookup verdict's first rule broken): a
    /// restarted node that holds nothing and knows only itself calls the live session gone.
    @Test func lookupCertaintyCatchesAnUnjoinedVerdict() {
        var options = ReplicationSimulation.Options()
        options.mutantAlwaysJoined = true
        let (count, first) = Self.violating(options, seeds: 0..<200)
        print("mutant always-joined: \(count) of 200 seeds violate; first: \(first ?? "-")")
        #expect(count > 0, "no seed caught a node that calls the session gone before it joined")
        #expect(first?.contains("certainly none") ?? false, "\(first ?? "-")")
    }
}
