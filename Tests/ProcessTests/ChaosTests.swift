import Foundation
import Testing

/// The chaos harness (`cluster/chaos`) on real processes: a live workload (broadcaster, writers,
/// viewers) on 5 nodes while nodes are killed, paused, partitioned, delayed and made lossy; the
/// harness checks the guarantees of API.md and exits non-zero on any violation.
@Suite("Chaos on real processes", .serialized)
struct ChaosTests {
    @Test("cluster/chaos --duration 100 --seed 7: no violation, and the schedule ran its guaranteed faults")
    func chaosRun() async throws {
        _ = try Tools.require("python3")
        _ = try Tools.require("ffmpeg")
        var env = ProcessInfo.processInfo.environment
        env["QUNBO_BIN"] = NodeProcess.binary
        // The harness has its own deadlines (recovery, convergence, each write); this one only
        // bounds a harness that hangs. cluster/chaos cleans up on SIGTERM.
        let result = try await Tools.run(
            LocalCluster.root.appendingPathComponent("cluster/chaos").path,
            ["--duration", "100", "--seed", "7", "--json"],
            timeout: 420,
            environment: env
        )
        let context =
            "exit \(result.status)\n--- stdout\n\(result.stdout)\n--- stderr (tail)\n"
            + result.stderr.split(separator: "\n").suffix(80).joined(separator: "\n")
        #expect(result.status == 0, "\(context)")
        let json = try #require(
            (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any],
            "no JSON summary on stdout\n\(context)"
        )
        let faults = json["faults"] as? [String: Any] ?? [:]
        let writes = json["writes"] as? [String: Any] ?? [:]
        let violations = json["violations"] as? [[String: Any]] ?? []
        #expect(json["violationCount"] as? Int == 0, "violations: \(violations)")
        #expect((faults["kill"] as? Int ?? 0) >= 3, "faults: \(faults)")
        #expect((faults["partition"] as? Int ?? 0) >= 1, "faults: \(faults)")
        #expect((faults["pause"] as? Int ?? 0) >= 1, "faults: \(faults)")
        #expect((writes["acknowledged"] as? Int ?? 0) > 0, "writes: \(writes)")
    }
}
