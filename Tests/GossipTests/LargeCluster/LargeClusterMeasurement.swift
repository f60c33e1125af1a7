import Foundation
import Gossip
import SimulationSupport
import Testing

/// The 1,000-node figures of ops/BENCHMARKS.md ("Gossip at 1,000 nodes"), printed as Markdown
/// tables. Off unless QUNBO_MEASURE=1, because it simulates minutes of a 1,000-node cluster:
/// `QUNBO_MEASURE=1 swift test -c release --filter LargeClusterMeasurement`.
///
/// Knobs (environment): QUNBO_GOSSIP_SEED (1), QUNBO_GOSSIP_NODES (1000), QUNBO_GOSSIP_KILLS (20),
/// QUNBO_GOSSIP_LOSS_MINUTES (5), QUNBO_GOSSIP_SIZES ("10,30,100,300,1000"), QUNBO_GOSSIP_FORKS (5).
/// Every figure is a pure function of these: the same knobs print the same tables.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["QUNBO_MEASURE"] == "1"))
struct LargeClusterMeasurement {
    static func knob(_ name: String, _ fallback: Int) -> Int {
        ProcessInfo.processInfo.environment[name].flatMap { Int($0) } ?? fallback
    }

    static let seed = UInt64(knob("QUNBO_GOSSIP_SEED", 1))
    static let settings = GossipSettings()
    static var round: Double { settings.probeInterval.seconds }

    /// Detection of kills, traffic and false positives on one cluster of QUNBO_GOSSIP_NODES.
    @Test func largeCluster() {
        let n = Self.knob("QUNBO_GOSSIP_NODES", 1000)
        let kills = Self.knob("QUNBO_GOSSIP_KILLS", 20)
        let lossMinutes = Self.knob("QUNBO_GOSSIP_LOSS_MINUTES", 5)
        let wall = ContinuousClock.now
        guard let sim = Self.quietCluster(n: n, seed: Self.seed) else { return }
        let bound = Self.settings.worstCaseDetection(clusterSize: n)

        print("\n### Detection of a kill, \(n) nodes, \(kills) kills (seconds after the kill)\n")
        print("| kill | first suspect p50 / p99 | first dead p50 / p99 | all know dead p50 / p99 | bound |")
        print("|---|---|---|---|---|")
        for reset in [true, false] {
            var timings: [KillTiming] = []
            for k in 0..<kills {
                let fork = sim.fork(seed: Self.seed * 1000 + UInt64(k))
                var pick = GossipRandom(seed: Self.seed * 1000 + UInt64(k))
                let victim = Int(pick.next() % UInt64(n))
                fork.run(for: pick.nextUnit() * 2)
                let timing = fork.measureKill(victim, resetConnections: reset, limit: bound + 10)
                #expect(
                    timing.allDead.map { $0 <= bound } == true,
                    "fork \(k): n\(victim) known dead by all after \(String(describing: timing.allDead)) s, bound \(bound) s"
                )
                timings.append(timing)
            }
            let column = { (values: [Double?]) in Self.pair(values.compactMap { $0 }, of: values.count) }
            print(
                "| \(reset ? "kill -9, connections reset" : "silent (no reset)") | \(column(timings.map(\.firstSuspect))) "
                    + "| \(column(timings.map(\.firstDead))) | \(column(timings.map(\.allDead))) | \(Self.f(bound)) |"
            )
        }

        let traffic = sim.fork(seed: Self.seed &+ 7).measureTraffic(seconds: 20)
        print("\n### Traffic per node, \(n) nodes, quiet cluster, 20 s\n")
        Self.printTrafficHeader()
        Self.printTraffic(n: n, traffic)

        let lossRun = sim.fork(seed: Self.seed &+ 11)
        let loss = lossRun.measureLoss(0.05, seconds: Double(lossMinutes) * 60)
        print("\n### 5% uniform message loss, \(n) nodes, \(lossMinutes) min, nobody failed\n")
        print(
            "| suspicions raised | per node-hour | self-refutations | refuted (node views) | false deaths | members wrongly dead | local health max / mean |"
        )
        print("|---|---|---|---|---|---|---|")
        let perNodeHour = Double(loss.suspicionsRaised) / Double(n) / (loss.seconds / 3600)
        print(
            "| \(loss.suspicionsRaised) | \(Self.f(perNodeHour)) | \(loss.selfRefutations) | \(loss.suspicionsRefuted) "
                + "| \(loss.falseDeaths) | \(loss.membersWronglyDead) | \(loss.maxLocalHealth) / \(Self.f(loss.meanLocalHealth)) |"
        )
        #expect(loss.falseDeaths == 0, "seed \(Self.seed): \(loss.falseDeaths) false deaths under 5% loss")
        print("\nwall time \(ContinuousClock.now - wall)")
    }

    /// Dissemination against log n, and traffic against n.
    @Test func disseminationAgainstSize() {
        let sizes = (ProcessInfo.processInfo.environment["QUNBO_GOSSIP_SIZES"] ?? "10,30,100,300,1000")
            .split(separator: ",").compactMap { Int($0) }
        let forks = Self.knob("QUNBO_GOSSIP_FORKS", 5)
        let wall = ContinuousClock.now
        var rows: [String] = []
        var trafficRows: [(Int, Traffic)] = []
        for n in sizes {
            guard let sim = Self.quietCluster(n: n, seed: Self.seed &+ UInt64(n), spare: 1) else { continue }
            trafficRows.append((n, sim.fork(seed: Self.seed &+ 7).measureTraffic(seconds: 20)))
            var joins: [Double] = []
            var loads: [Double] = []
            var deadNotices: [Double] = []
            for k in 0..<forks {
                let fork = sim.fork(seed: Self.seed * 100 + UInt64(k))
                var pick = GossipRandom(seed: Self.seed * 100 + UInt64(k))
                fork.run(for: pick.nextUnit())
                let joined = fork.timeUntilAllReport(
                    n,
                    limit: 60,
                    matches: { $0.status == .alive },
                    action: { fork.start(n) }
                )
                #expect(joined != nil, "n=\(n) fork \(k): join did not reach everyone in 60 s")
                joins += joined.map { [$0 / Self.round] } ?? []
                let publisher = Int(pick.next() % UInt64(n))
                let load = MemberLoad(sessions: 1 + k, viewers: 100)
                let loaded = fork.timeUntilAllReport(
                    publisher,
                    limit: 60,
                    matches: { $0.load == load },
                    action: { fork.setLoad(publisher, load) }
                )
                #expect(loaded != nil, "n=\(n) fork \(k): load update did not reach everyone in 60 s")
                loads += loaded.map { [$0 / Self.round] } ?? []
                let victim = 1 + Int(pick.next() % UInt64(n - 1))
                let bound = Self.settings.worstCaseDetection(clusterSize: n + 1)
                let timing = fork.measureKill(victim, resetConnections: false, limit: bound + 10)
                if let first = timing.firstDead, let all = timing.allDead {
                    deadNotices.append((all - first) / Self.round)
                } else {
                    Issue.record("n=\(n) fork \(k): n\(victim) not dead everywhere")
                }
            }
            let log2n = log2(Double(n))
            let limit = Self.settings.retransmitLimit(clusterSize: n)
            rows.append(
                "| \(n) | \(Self.f(log2n)) | \(limit) | \(Self.pair(joins, of: forks, p: 50, 100)) "
                    + "| \(Self.pair(loads, of: forks, p: 50, 100)) | \(Self.pair(deadNotices, of: forks, p: 50, 100)) |"
            )
        }
        print("\n### Dissemination, protocol periods (\(Self.f(Self.round)) s) until every node has an update\n")
        print("| nodes | log2 n | retransmit limit | join p50 / max | load update p50 / max | dead notice p50 / max |")
        print("|---|---|---|---|---|---|")
        for row in rows { print(row) }
        print("\n### Traffic per node against cluster size, quiet cluster, 20 s\n")
        Self.printTrafficHeader()
        for (n, traffic) in trafficRows { Self.printTraffic(n: n, traffic) }
        print("\nwall time \(ContinuousClock.now - wall)")
    }
}

extension LargeClusterMeasurement {
    /// A started, converged and settled cluster; records an issue (with the seed) and returns nil
    /// if it does not converge or settle.
    static func quietCluster(n: Int, seed: UInt64, spare: Int = 0) -> Simulation? {
        let (sim, converged) = Simulation.started(seed: seed, count: n, spare: spare, within: 300)
        guard let converged else {
            Issue.record("seed \(seed): \(n) nodes did not converge in 300 s")
            return nil
        }
        guard let settled = sim.settle(within: 600) else {
            Issue.record("seed \(seed): \(n) nodes still gossiping the start's backlog after 600 s")
            return nil
        }
        print(
            "seed \(seed): \(n) nodes all alive everywhere after \(f(converged)) s, backlog sent after \(f(settled)) s more"
        )
        return sim
    }

    static func printTrafficHeader() {
        print(
            "| nodes | messages/s | KiB/s sent | of which probes | of which push-pull | largest message KiB | LZ4 saves | updates/message |"
        )
        print("|---|---|---|---|---|---|---|---|")
    }

    static func printTraffic(n: Int, _ t: Traffic) {
        let messages = t.probeMessages + t.syncMessages
        print(
            "| \(n) | \(f(t.messagesPerNodeSecond)) | \(f(t.bytesPerNodeSecond / 1024)) | \(f(t.probeBytesPerNodeSecond / 1024)) "
                + "| \(f(t.syncBytesPerNodeSecond / 1024)) | \(f(Double(t.largestFrame) / 1024)) "
                + "| \(Int(((1 - t.compression) * 100).rounded()))% | \(f(Double(t.updates) / Double(max(messages, 1)))) |"
        )
    }

    /// "p50 / p99" of `values` (nearest rank), noting samples that never happened.
    static func pair(_ values: [Double], of total: Int, p low: Double = 50, _ high: Double = 99) -> String {
        guard let a = percentile(values, low), let b = percentile(values, high) else { return "none" }
        let missing = total - values.count
        return "\(f(a)) / \(f(b))" + (missing > 0 ? " (\(missing) missing)" : "")
    }

    static func f(_ x: Double) -> String {
        String(format: x < 10 ? "%.2f" : "%.1f", x)
    }
}
