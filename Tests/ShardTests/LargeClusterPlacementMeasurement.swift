import Shard
import Testing

/// Placement at the size of ops/BENCHMARKS.md's "Gossip at 1,000 nodes": 100k groups and 10k live
/// sessions on 1,000 nodes, replicas 3. Off unless QUNBO_MEASURE=1 (rings of half a million points,
/// planned several times): `QUNBO_MEASURE=1 swift test -c release --filter LargeClusterPlacementMeasurement`.
@Suite(.enabled(if: environment("QUNBO_MEASURE") == "1"))
struct LargeClusterPlacementMeasurement {
    static let nodeCount = 1000
    static let groupCount = 100_000
    static let sessionCount = 10_000

    @Test func placementAtOneThousandNodes() throws {
        let nodes = makeNodes(Self.nodeCount)
        let groups = makeGroups(Self.groupCount)
        // The live sessions: every tenth group (the hash ignores the numbering's pattern), 10k.
        let sessions = stride(from: 0, to: groups.count, by: Self.groupCount / Self.sessionCount).map { groups[$0] }
        let clock = ContinuousClock()

        print("\n### Placement, \(Self.nodeCount) nodes, replicas 3, 512 vnodes per node\n")
        print("| what | mode | primaries per node max / mean | copies per node max / mean | build + place s |")
        print("|---|---|---|---|---|")
        for (label, keys) in [("100k groups", groups), ("10k live sessions", sessions)] {
            for mode in [MeasuredMode.ring, .boundedLoad] {
                var lists: [[String]] = []
                let took = try clock.measure {
                    lists = try preferenceLists(nodes: nodes, groups: keys, mode: mode, vnodes: 512)
                }
                let load = Self.load(lists)
                #expect(lists.allSatisfy { Set($0).count == 3 }, "\(label) \(mode): a list without 3 distinct nodes")
                print(
                    "| \(label) | \(mode.rawValue) | \(load.primaryMax) / \(Self.f(load.primaryMean)) "
                        + "(\(Self.f(Double(load.primaryMax) / load.primaryMean))x) | \(load.copyMax) / \(Self.f(load.copyMean)) "
                        + "(\(Self.f(Double(load.copyMax) / load.copyMean))x) | \(Self.f(took.seconds)) |"
                )
            }
        }

        print("\n### Movement when one node joins or leaves (PlacementPlanner), 1,000 nodes\n")
        print("| what | mode | change | primaries moved | ideal | copies moved | plan s |")
        print("|---|---|---|---|---|---|---|")
        let grown = nodes + [ShardNode(id: "node-\(Self.nodeCount)")]
        let shrunk = nodes.filter { $0.id != "node-\(Self.nodeCount / 2)" }
        for (label, keys) in [("100k groups", groups), ("10k live sessions", sessions)] {
            for mode in [PlacementSettings.Mode.ring, .boundedLoad] {
                let planner = PlacementPlanner(settings: PlacementSettings(mode: mode))
                for (change, after, ideal) in [
                    ("add 1", grown, 1 / Double(Self.nodeCount + 1)), ("remove 1", shrunk, 1 / Double(Self.nodeCount)),
                ] {
                    var plan: PlacementPlan?
                    let took = try clock.measure { plan = try planner.plan(from: nodes, to: after, groups: keys) }
                    let summary = plan!.summary
                    let primaries = Double(summary.primariesMoved) / Double(summary.groups)
                    let copies = Double(summary.replicaSlotsGained) / Double(summary.replicaSlotsAfter)
                    // A ring moves about the ideal share; far more would mean the ring reshuffles.
                    if mode == .ring {
                        #expect(primaries < 3 * ideal, "\(label) \(change): \(primaries) of primaries moved")
                    }
                    print(
                        "| \(label) | \(mode.rawValue) | \(change) | \(Self.percent(primaries)) | \(Self.percent(ideal)) "
                            + "| \(Self.percent(copies)) | \(Self.f(took.seconds)) |"
                    )
                }
            }
        }
    }

    /// Primaries (first of each list) and copies (every entry) per node.
    static func load(_ lists: [[String]]) -> (primaryMax: Int, primaryMean: Double, copyMax: Int, copyMean: Double) {
        var primaries: [String: Int] = [:]
        var copies: [String: Int] = [:]
        for list in lists {
            if let first = list.first { primaries[first, default: 0] += 1 }
            for node in list { copies[node, default: 0] += 1 }
        }
        let n = Double(nodeCount)
        return (
            primaries.values.max() ?? 0, Double(lists.count) / n,
            copies.values.max() ?? 0, Double(lists.reduce(0) { $0 + $1.count }) / n
        )
    }

    static func f(_ x: Double) -> String {
        let scaled = (x * 100).rounded() / 100
        return "\(scaled)"
    }

    static func percent(_ x: Double) -> String {
        "\((x * 10000).rounded() / 100)%"
    }
}

extension Duration {
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }
}
