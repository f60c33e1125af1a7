import Shard
import Testing

@Suite struct HashRingTests {
    /// A random membership: ids and zones drawn from a fixed seed, about one in three without zones.
    private func randomNodes(_ rng: inout SeededGenerator) -> [ShardNode] {
        let count = Int.random(in: 1...30, using: &rng)
        let zones = Int.random(in: 0...4, using: &rng)
        var seen = Set<String>()
        var nodes: [ShardNode] = []
        while nodes.count < count {
            let id = "n-\(UInt16.random(in: 0...999, using: &rng))"
            guard seen.insert(id).inserted else { continue }
            let zone = zones == 0 ? nil : "z\(Int.random(in: 0..<zones, using: &rng))"
            nodes.append(ShardNode(id: id, zone: zone))
        }
        return nodes
    }

    @Test func sameListsWhateverTheInputOrder() throws {
        var rng = SeededGenerator(seed: 0x5EED)
        for _ in 0..<25 {
            let nodes = randomNodes(&rng)
            let one = try HashRing(nodes: nodes, vnodesPerNode: 64)
            let other = try HashRing(nodes: nodes.shuffled(using: &rng), vnodesPerNode: 64)
            #expect(one.nodes == other.nodes)
            #expect(one.shares() == other.shares())
            for key in 0..<200 {
                let count = Int.random(in: 1...5, using: &rng)
                #expect(
                    one.preferenceList(for: "g\(key)", count: count)
                        == other.preferenceList(for: "g\(key)", count: count)
                )
            }
        }
    }

    @Test func listsHoldDistinctNodesAndStartAtTheOwner() throws {
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<25 {
            let nodes = randomNodes(&rng)
            let ring = try HashRing(nodes: nodes, vnodesPerNode: 64)
            for key in 0..<200 {
                let count = Int.random(in: 1...nodes.count, using: &rng)
                let list = ring.preferenceList(for: "g\(key)", count: count)
                #expect(list.count == count)
                #expect(Set(list).count == count)
                // No zone is used before the first pick, so it is always the plain ring owner.
                #expect(list.first == ring.owner(of: "g\(key)"))
            }
        }
    }

    @Test func askingForMoreThanExistReturnsEveryNode() throws {
        let nodes = makeNodes(5, zones: 2)
        let ring = try HashRing(nodes: nodes)
        let list = ring.preferenceList(for: "group-1", count: 9)
        #expect(Set(list) == Set(nodes.map(\.id)))
        #expect(list.count == 5)
        #expect(ring.preferenceList(for: "group-1", count: 0).isEmpty)
    }

    @Test func emptyRingPlacesNothing() throws {
        let ring = try HashRing(nodes: [])
        #expect(ring.owner(of: "group-1") == nil)
        #expect(ring.preferenceList(for: "group-1", count: 3).isEmpty)
        #expect(ring.shares().isEmpty)
    }

    @Test func threeZonesAndThreeReplicasCoverEveryZone() throws {
        // Uneven zones on purpose: zone-c has one node, so the walk must often skip far ahead.
        let nodes =
            (0..<20).map { ShardNode(id: "a\($0)", zone: "zone-a") }
            + (0..<9).map { ShardNode(id: "b\($0)", zone: "zone-b") } + [ShardNode(id: "c0", zone: "zone-c")]
        let zoneOf = Dictionary(uniqueKeysWithValues: nodes.map { ($0.id, $0.zone!) })
        let ring = try HashRing(nodes: nodes, vnodesPerNode: 128)
        for group in makeGroups(5_000) {
            let list = ring.preferenceList(for: group, count: 3)
            #expect(Set(list.map { zoneOf[$0]! }).count == 3)
        }
        // With four replicas over three zones, the fourth is the next node clockwise of any zone.
        #expect(Set(ring.preferenceList(for: "group-1", count: 4).map { zoneOf[$0]! }).count == 3)
    }

    @Test func twoZonesWithThreeReplicasUseBoth() throws {
        let ring = try HashRing(nodes: makeNodes(10, zones: 2), vnodesPerNode: 128)
        for group in makeGroups(2_000) {
            let zones = Set(ring.preferenceList(for: group, count: 3).map { Int($0.dropFirst(5))! % 2 })
            #expect(zones.count == 2)
        }
    }

    @Test func sharesSumToOneAndMatchWhereKeysLand() throws {
        let ring = try HashRing(nodes: makeNodes(8), vnodesPerNode: 128)
        let shares = ring.shares()
        #expect(abs(shares.values.reduce(0, +) - 1) < 1e-9)
        var counts: [String: Int] = [:]
        let groups = makeGroups(40_000)
        for group in groups { counts[ring.owner(of: group)!, default: 0] += 1 }
        for (node, share) in shares {
            // 40k keys: a node's key fraction is within 3.5 standard deviations (~0.6%) of its arc.
            #expect(abs(Double(counts[node] ?? 0) / Double(groups.count) - share) < 0.006)
        }
        #expect(try HashRing(nodes: [ShardNode(id: "solo")]).shares() == ["solo": 1])
    }

    @Test func badInputsAreTypedErrors() {
        #expect(throws: PlacementError.duplicateNodeID("x")) {
            try HashRing(nodes: [ShardNode(id: "x"), ShardNode(id: "y"), ShardNode(id: "x", zone: "z")])
        }
        #expect(throws: PlacementError.invalidVnodeCount(0)) { try HashRing(nodes: makeNodes(2), vnodesPerNode: 0) }
    }

    /// Hard-coded answers for a fixed membership at the default 512 vnodes: if these change, nodes
    /// running old and new builds would place groups differently, which needs a deliberate migration.
    @Test func placementIsStableAcrossBuilds() throws {
        let ring = try HashRing(nodes: makeNodes(6, zones: 3))
        #expect(ring.vnodesPerNode == 512)
        let answers = ["group-0", "group-1", "group-42", "直播"].map { ring.preferenceList(for: $0, count: 3) }
        #expect(answers == Self.expected)
    }

    private static let expected: [[String]] = [
        ["node-2", "node-4", "node-0"],
        ["node-5", "node-0", "node-1"],
        ["node-0", "node-5", "node-1"],
        ["node-4", "node-3", "node-5"],
    ]
}
