import Shard
import Testing

/// Prints the balance/movement table for several vnode counts and modes. Off unless
/// QUNBO_MEASURE=1, because it takes minutes in a debug build; run it with
/// `QUNBO_MEASURE=1 swift test -c release --filter MeasurementReport`.
@Suite(.enabled(if: environment("QUNBO_MEASURE") == "1"))
struct MeasurementReport {
    @Test func table() throws {
        let groups = makeGroups(100_000)
        let vnodeCounts = (environment("QUNBO_VNODES") ?? "128,256,512,1024").split(separator: ",").map { Int($0)! }
        let epsilon = Double(environment("QUNBO_EPS") ?? "0.1")!
        for nodeCount in [10, 50, 200] {
            for mode in MeasuredMode.allCases {
                for vnodes in mode == .rendezvous ? [0] : vnodeCounts {
                    let figures = try measureScenario(
                        nodeCount: nodeCount,
                        groups: groups,
                        mode: mode,
                        vnodes: max(vnodes, 1),
                        epsilon: epsilon
                    )
                    print(
                        "n=\(nodeCount) \(mode.rawValue) v=\(vnodes) base \(Int((figures.base * 1000).rounded()))"
                            + " | add \(figures.added) | remove \(figures.removed)"
                    )
                }
            }
        }
    }
}

extension MeasurementReport {
    /// Averages over several node namings, since one ring is one sample of the arc noise; and times
    /// ring build and lookups per vnode count.
    @Test func vnodeSweep() throws {
        let groups = makeGroups(100_000)
        let clock = ContinuousClock()
        for nodeCount in [10, 50, 200] {
            for vnodes in [128, 256, 512, 1024] {
                var base: [Double] = []
                var moved: [Double] = []
                var buildTime = Duration.zero
                var lookupTime = Duration.zero
                var sink = 0
                for trial in 0..<6 {
                    let nodes = makeNodes(nodeCount, prefix: "n\(trial)")
                    var ring = try HashRing(nodes: nodes, vnodesPerNode: vnodes)
                    buildTime += clock.measure { ring = try! HashRing(nodes: nodes, vnodesPerNode: vnodes) }
                    var primaries: [String] = []
                    primaries.reserveCapacity(groups.count)
                    lookupTime += clock.measure {
                        for group in groups { sink &+= ring.preferenceList(for: group, count: 3).count }
                    }
                    for group in groups { primaries.append(ring.owner(of: group)!) }
                    base.append(maxOverMean(primaries, nodeCount: nodeCount))
                    let grown = try HashRing(nodes: nodes + [ShardNode(id: "n\(trial)-new")], vnodesPerNode: vnodes)
                    moved.append(grown.shares()["n\(trial)-new"]! * Double(nodeCount + 1))
                }
                let mean = { (xs: [Double]) in xs.reduce(0, +) / Double(xs.count) }
                let seeds = (0..<nodeCount).map { StableHash.hash("n-\($0)") }
                let rendezvous = clock.measure {
                    for group in groups.prefix(20_000) { sink &+= rendezvousTop3(group, seeds: seeds) }
                }
                print(
                    "sweep n=\(nodeCount) v=\(vnodes) max/mean avg \(mean(base)) worst \(base.max()!)"
                        + " newShare/ideal avg \(mean(moved)) worst \(moved.max()!)"
                        + " build \(buildTime / 6) lookup3 \(lookupTime / 600_000)"
                        + " rendezvous3 \(rendezvous / 20_000) sink \(sink % 2)"
                )
            }
        }
    }
}

/// Top three rendezvous scores by a single pass (no sort), to time rendezvous lookups fairly.
private func rendezvousTop3(_ key: String, seeds: [UInt64]) -> Int {
    let hash = StableHash.hash(key)
    var best: (UInt64, Int) = (0, -1)
    var second: (UInt64, Int) = (0, -1)
    var third: (UInt64, Int) = (0, -1)
    for (index, seed) in seeds.enumerated() {
        var z = hash ^ seed
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        if z > third.0 {
            third = (z, index)
            if third.0 > second.0 { swap(&third, &second) }
            if second.0 > best.0 { swap(&second, &best) }
        }
    }
    return best.1 &+ second.1 &+ third.1
}
