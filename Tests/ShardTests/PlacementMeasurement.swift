import Shard

/// How groups are placed in a measurement run.
enum MeasuredMode: String, CaseIterable {
    case ring
    case boundedLoad
    /// Rendezvous (highest random weight) hashing, measured only to compare with the ring.
    case rendezvous
}

/// Preference lists of `replicas` nodes for every group, in the given mode.
func preferenceLists(
    nodes: [ShardNode],
    groups: [String],
    mode: MeasuredMode,
    vnodes: Int,
    replicas: Int = 3,
    epsilon: Double = 0.10
) throws -> [[String]] {
    switch mode {
    case .ring:
        let ring = try HashRing(nodes: nodes, vnodesPerNode: vnodes)
        return groups.map { ring.preferenceList(for: $0, count: replicas) }
    case .boundedLoad:
        let ring = try HashRing(nodes: nodes, vnodesPerNode: vnodes)
        let placement = try BoundedLoadPlacement(ring: ring, keys: groups, epsilon: epsilon)
        return groups.map { placement.preferenceList(for: $0, count: replicas) }
    case .rendezvous:
        let seeds = nodes.map { StableHash.hash($0.id) }
        return groups.map { group in
            let key = StableHash.hash(group)
            var scored = seeds.indices.map { (score: mix(key ^ seeds[$0]), node: $0) }
            scored.sort { $0.score > $1.score }
            return scored.prefix(replicas).map { nodes[$0.node].id }
        }
    }
}

/// The SplitMix64 finalizer: a cheap, well-mixed score for rendezvous hashing.
private func mix(_ value: UInt64) -> UInt64 {
    var z = value
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// Balance of `after` and movement from `before` to `after`.
func figures(before: [[String]], after: [[String]], nodeCountAfter: Int, ideal: Double) -> PlacementFigures {
    var primaryMoved = 0
    var slotsMoved = 0
    var slots = 0
    for (old, new) in zip(before, after) {
        if old.first != new.first { primaryMoved += 1 }
        slotsMoved += new.filter { !old.contains($0) }.count
        slots += new.count
    }
    return PlacementFigures(
        maxOverMean: maxOverMean(after.compactMap(\.first), nodeCount: nodeCountAfter),
        primaryMovedFraction: Double(primaryMoved) / Double(before.count),
        idealMovedFraction: ideal,
        slotMovedFraction: Double(slotsMoved) / Double(slots)
    )
}

/// Base balance, then one node added and one removed, for `nodeCount` nodes.
struct ScenarioFigures {
    var base: Double
    var added: PlacementFigures
    var removed: PlacementFigures
}

func measureScenario(
    nodeCount: Int,
    groups: [String],
    mode: MeasuredMode,
    vnodes: Int,
    epsilon: Double = 0.10
)
    throws -> ScenarioFigures
{
    let nodes = makeNodes(nodeCount)
    let base = try preferenceLists(nodes: nodes, groups: groups, mode: mode, vnodes: vnodes, epsilon: epsilon)
    let grown = nodes + [ShardNode(id: "node-\(nodeCount)")]
    let added = try preferenceLists(nodes: grown, groups: groups, mode: mode, vnodes: vnodes, epsilon: epsilon)
    // Remove a node from the middle of the id order, so no edge case of the numbering helps.
    let shrunk = nodes.filter { $0.id != "node-\(nodeCount / 2)" }
    let removed = try preferenceLists(nodes: shrunk, groups: groups, mode: mode, vnodes: vnodes, epsilon: epsilon)
    return ScenarioFigures(
        base: maxOverMean(base.compactMap(\.first), nodeCount: nodeCount),
        added: figures(before: base, after: added, nodeCountAfter: nodeCount + 1, ideal: 1 / Double(nodeCount + 1)),
        removed: figures(before: base, after: removed, nodeCountAfter: nodeCount - 1, ideal: 1 / Double(nodeCount))
    )
}
