import Shard
import Testing

@Suite struct BoundedLoadTests {
    @Test func capacityIsTheCeilingOfTheSlackedMean() {
        #expect(BoundedLoadPlacement.capacity(keys: 100_000, nodes: 200, epsilon: 0.1) == 550)
        #expect(BoundedLoadPlacement.capacity(keys: 100_000, nodes: 201, epsilon: 0.1) == 548)
        #expect(BoundedLoadPlacement.capacity(keys: 100_000, nodes: 10, epsilon: 0.1) == 11_000)
        #expect(BoundedLoadPlacement.capacity(keys: 10, nodes: 3, epsilon: 0) == 4)
        #expect(BoundedLoadPlacement.capacity(keys: 0, nodes: 3, epsilon: 0.1) == 0)
    }

    @Test func noNodeExceedsCapacityAndListsStartAtThePrimary() throws {
        let ring = try HashRing(nodes: makeNodes(12, zones: 3), vnodesPerNode: 64)
        let groups = makeGroups(6_000)
        let placement = try BoundedLoadPlacement(ring: ring, keys: groups, epsilon: 0.05)
        #expect(placement.capacity == 525)
        #expect(placement.loads().values.allSatisfy { $0 <= 525 })
        #expect(placement.loads().values.reduce(0, +) == 6_000)
        #expect(abs(placement.shares().values.reduce(0, +) - 1) < 1e-9)
        for group in groups.prefix(1_000) {
            let list = placement.preferenceList(for: group, count: 3)
            #expect(list.first == placement.primary(of: group))
            #expect(Set(list).count == 3)
        }
    }

    @Test func sameAnswerWhateverTheKeyOrder() throws {
        var rng = SeededGenerator(seed: 11)
        let ring = try HashRing(nodes: makeNodes(9).shuffled(using: &rng), vnodesPerNode: 64)
        let groups = makeGroups(3_000)
        let one = try BoundedLoadPlacement(ring: ring, keys: groups, epsilon: 0.02)
        let other = try BoundedLoadPlacement(
            ring: ring,
            keys: groups.shuffled(using: &rng) + groups.prefix(10),
            epsilon: 0.02
        )
        #expect(one.keyCount == 3_000 && other.keyCount == 3_000)
        for group in groups {
            #expect(one.preferenceList(for: group, count: 3) == other.preferenceList(for: group, count: 3))
        }
    }

    @Test func unplacedKeysFallBackToTheRing() throws {
        let ring = try HashRing(nodes: makeNodes(4), vnodesPerNode: 64)
        let placement = try BoundedLoadPlacement(ring: ring, keys: ["a", "b"], epsilon: 0.1)
        #expect(placement.primary(of: "elsewhere") == ring.owner(of: "elsewhere"))
        #expect(placement.preferenceList(for: "elsewhere", count: 2) == ring.preferenceList(for: "elsewhere", count: 2))
    }

    @Test func badEpsilonIsATypedError() throws {
        let ring = try HashRing(nodes: makeNodes(2), vnodesPerNode: 8)
        #expect(throws: PlacementError.invalidEpsilon(-0.5)) {
            try BoundedLoadPlacement(ring: ring, keys: ["a"], epsilon: -0.5)
        }
    }
}
