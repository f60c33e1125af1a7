import Shard
import Testing

@Suite struct PlacementPlannerTests {
    private let groups = makeGroups(4_000)
    private let planner = PlacementPlanner(settings: PlacementSettings(vnodesPerNode: 128))

    @Test(arguments: [0, 3])
    func addingANodeOnlyGivesToIt(zones: Int) throws {
        let old = makeNodes(12, zones: zones)
        let newcomer = ShardNode(id: "node-new", zone: zones > 0 ? "zone-1" : nil)
        let plan = try planner.plan(from: old, to: old + [newcomer], groups: groups)
        #expect(!plan.moves.isEmpty)
        for move in plan.moves {
            #expect(move.gained == ["node-new"])
            #expect(move.lost.count == 1 && move.lost != ["node-new"])
            #expect(move.primaryAfter == move.primaryBefore || move.primaryAfter == "node-new")
        }
        #expect(plan.summary.gainedByNode.keys.sorted() == ["node-new"])
        #expect(plan.summary.replicaSlotsGained == plan.summary.replicaSlotsLost)
        #expect(plan.summary.groupsChanged == plan.moves.count)
        #expect(plan.summary.replicaSlotsAfter == groups.count * 3)
        // The newcomer takes about 1/13 of primaries and 3/13 of groups' replica sets (±25% at 4k groups).
        #expect(abs(Double(plan.summary.primariesMoved) / Double(groups.count) - 1 / 13.0) < 0.25 / 13)
        #expect(abs(Double(plan.summary.groupsChanged) / Double(groups.count) - 3 / 13.0) < 0.75 / 13)
    }

    @Test(arguments: [0, 3])
    func removingANodeOnlyMovesWhatItHeld(zones: Int) throws {
        let old = makeNodes(12, zones: zones)
        let gone = old[5].id
        let held = Set(try HashRing(nodes: old, vnodesPerNode: 128).preferenceLists(groups, count: 3, holding: gone))
        let plan = try planner.plan(from: old, to: old.filter { $0.id != gone }, groups: groups)
        #expect(Set(plan.moves.map(\.group)) == held)
        for move in plan.moves {
            #expect(move.lost == [gone])
            #expect(move.gained.count == 1 && move.gained != [gone])
            #expect(move.primaryAfter == move.primaryBefore || move.primaryBefore == gone)
        }
        #expect(plan.summary.lostByNode.keys.sorted() == [gone])
    }

    @Test func sameMembershipPlansNothing() throws {
        var rng = SeededGenerator(seed: 3)
        let nodes = makeNodes(7, zones: 2)
        for mode in [PlacementSettings.Mode.ring, .boundedLoad] {
            let planner = PlacementPlanner(settings: PlacementSettings(vnodesPerNode: 64, mode: mode))
            let plan = try planner.plan(from: nodes, to: nodes.shuffled(using: &rng), groups: groups)
            #expect(plan.moves.isEmpty)
            #expect(plan.summary.groupsChanged == 0 && plan.summary.replicaSlotsAfter == groups.count * 3)
        }
    }

    /// Bounded loads trade strict "only the newcomer gains" for balance: a capped node's overflow
    /// shifts when capacities change. Still, every copy that moves is accounted for both ways.
    @Test func boundedLoadPlansBalanceTheirBooks() throws {
        let planner = PlacementPlanner(settings: PlacementSettings(vnodesPerNode: 128, mode: .boundedLoad))
        let old = makeNodes(12)
        let plan = try planner.plan(from: old, to: old + [ShardNode(id: "node-new")], groups: groups)
        #expect(plan.summary.gainedByNode["node-new", default: 0] > 0)
        #expect(plan.summary.replicaSlotsGained == plan.summary.replicaSlotsLost)
        #expect(plan.summary.gainedByNode.values.reduce(0, +) == plan.summary.replicaSlotsGained)
        #expect(plan.moves.allSatisfy { !$0.gained.isEmpty || $0.primaryBefore != $0.primaryAfter })
    }
}

extension HashRing {
    /// Groups whose preference list of `count` includes `node`.
    fileprivate func preferenceLists(_ groups: [String], count: Int, holding node: String) -> [String] {
        groups.filter { preferenceList(for: $0, count: count).contains(node) }
    }
}
