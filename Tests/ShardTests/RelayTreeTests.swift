import Shard
import Testing

/// The edge-relay tree (issue 17): every node computes the same one, it has no cycles, a copy
/// feeds about `fanout` relays, and membership changes move few relays.
@Suite("Relay tree")
struct RelayTreeTests {
    static func nodes(_ n: Int) -> [String] { (1...n).map { "n\($0)" } }

    static func tree(
        _ nodes: [String],
        session: String = "s-1",
        fanout: Int = 16,
        zones: [String: String] = [:]
    )
        -> RelayTree
    {
        RelayTree(
            session: session,
            replicas: ["n1", "n2", "n3"],
            nodes: nodes,
            zones: zones,
            settings: .init(fanout: fanout)
        )
    }

    @Test("every node computes the same tree, whatever order it knows the members in")
    func sameTreeEverywhere() {
        let nodes = Self.nodes(300)
        let reference = Self.tree(nodes)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            #expect(Self.tree(nodes.shuffled(using: &rng)) == reference)
        }
    }

    @Test(
        "every relay reaches a replica by going up one level at a time: no cycles, depth log_fanout(n)",
        arguments: [5, 60, 400, 1000]
    )
    func noCycles(size: Int) {
        let tree = Self.tree(Self.nodes(size))
        for node in Self.nodes(size) {
            let path = tree.path(from: node)
            #expect(["n1", "n2", "n3"].contains(path.last!), "\(node): \(path)")
            #expect(Set(path).count == path.count, "\(node) cycles: \(path)")
            for (child, parent) in zip(path, path.dropFirst()) {
                #expect(tree.level(of: parent)! == tree.level(of: child)! - 1)
            }
        }
        // 3 replicas, 48 relays on them, 768 below: 1,000 nodes need three levels of relays.
        #expect(tree.levels.count == (size <= 51 ? 2 : size <= 819 ? 3 : 4))
    }

    @Test("a replica feeds at most a fanout's worth of relays, and a relay about as many")
    func fanoutBounded() {
        let tree = Self.tree(Self.nodes(800))
        for replica in ["n1", "n2", "n3"] {
            #expect(tree.children(of: replica).count <= 2 * 16, "\(replica): \(tree.children(of: replica).count)")
        }
        #expect(tree.levels[1].count == 48)
        let perRelay = tree.levels[1].map { tree.children(of: $0).count }
        #expect(perRelay.reduce(0, +) == tree.levels[2].count)
        #expect(perRelay.max()! <= 40, "children per relay \(perRelay.sorted())")
        // With 5 nodes (the test cluster) both non-replicas relay straight from a replica.
        let small = Self.tree(Self.nodes(5))
        #expect(small.levels == [["n1", "n2", "n3"], small.levels[1]] && Set(small.levels[1]) == ["n4", "n5"])
    }

    @Test("a node joining or leaving re-parents few relays", arguments: [50, 200, 1000])
    func fewMoves(size: Int) {
        let before = Self.tree(Self.nodes(size))
        let joined = Self.tree(Self.nodes(size + 1))
        let moved = Self.nodes(size).filter { before.upstream(of: $0) != joined.upstream(of: $0) }
        #expect(moved.count <= 2 * 16 + 4, "join moved \(moved.count) of \(size)")
        for lost in ["n4", "n\(size / 2)", "n\(size)"] {
            let after = Self.tree(Self.nodes(size).filter { $0 != lost })
            let moves = Self.nodes(size).filter { $0 != lost && before.upstream(of: $0) != after.upstream(of: $0) }
            #expect(moves.count <= 2 * 16 + 4, "losing \(lost) moved \(moves.count) of \(size)")
            for node in moves where before.upstream(of: node) != lost {
                // Anything else that moved crossed a level boundary, or was a child of one that did.
                let crossed = before.level(of: node) != after.level(of: node)
                let parentCrossed =
                    before.upstream(of: node).map { before.level(of: $0) != after.level(of: $0) } ?? false
                #expect(crossed || parentCrossed, "\(node) moved for no reason when \(lost) left")
            }
        }
    }

    @Test("a relay prefers a parent in its own zone")
    func nearestZone() {
        let nodes = Self.nodes(12)
        let zones = Dictionary(uniqueKeysWithValues: nodes.enumerated().map { ($1, ["a", "b", "c"][$0 % 3]) })
        let tree = Self.tree(nodes, zones: zones)
        for node in nodes where tree.level(of: node) == 1 {
            #expect(
                zones[tree.upstream(of: node)!] == zones[node],
                "\(node) in \(zones[node]!) feeds from \(tree.upstream(of: node)!)"
            )
        }
    }

    @Test("replicas have no upstream; an unknown node and a session without replicas have none either")
    func edges() {
        let tree = Self.tree(Self.nodes(10))
        #expect(tree.upstream(of: "n1") == nil && tree.level(of: "n1") == 0)
        #expect(tree.upstream(of: "n99") == nil && tree.level(of: "n99") == nil)
        let orphan = RelayTree(session: "s", replicas: [], nodes: Self.nodes(4))
        #expect(orphan.upstream(of: "n1") == nil)
    }

    @Test("different sessions spread their first-level relays over different nodes")
    func sessionsSpread() {
        let nodes = Self.nodes(100)
        var counts: [String: Int] = [:]
        for s in 0..<200 {
            for node in Self.tree(nodes, session: "s\(s)").levels[1] { counts[node, default: 0] += 1 }
        }
        // Each non-replica is first-level for about 48/97 of sessions: ~99 of 200.
        #expect(counts.values.min()! > 60 && counts.values.max()! < 140, "\(counts.values.sorted())")
    }
}

/// Choosing a relay's upstream and a viewer's route: pure functions every node evaluates alike.
@Suite("Relay selection")
struct RelaySelectionTests {
    static let replicas = ["n1", "n2", "n3"]
    static let nodes = Set((1...40).map { "n\($0)" })

    @Test("a relay's upstream is its parent in the tree over the alive nodes, the same from any view order")
    func upstreamIsTheTreeParent() {
        let tree = RelayTree(session: "s", replicas: Self.replicas, nodes: Self.nodes)
        for node in Self.nodes.subtracting(Self.replicas) {
            let chosen = RelayTree.upstream(of: node, session: "s", replicas: Self.replicas, alive: Self.nodes)
            #expect(chosen == tree.upstream(of: node))
            #expect(chosen != node)
        }
    }

    @Test("a dead or avoided upstream is never chosen; the relay moves to a live copy")
    func deadAndAvoidedAreLeftOut() {
        for node in Self.nodes.subtracting(Self.replicas).sorted() {
            guard let first = RelayTree.upstream(of: node, session: "s", replicas: Self.replicas, alive: Self.nodes)
            else {
                Issue.record("no upstream for \(node)")
                continue
            }
            let alive = Self.nodes.subtracting([first])
            let second = RelayTree.upstream(of: node, session: "s", replicas: Self.replicas, alive: alive)
            #expect(second != nil && second != first && alive.contains(second!))
            let avoided = RelayTree.upstream(
                of: node,
                session: "s",
                replicas: Self.replicas,
                alive: Self.nodes,
                avoiding: [first]
            )
            #expect(avoided != nil && avoided != first)
        }
    }

    @Test("two relays never feed each other, even when one avoids the other (its child)")
    func noMutualFeeding() {
        let alive = Set((1...120).map { "n\($0)" })
        for node in alive.subtracting(Self.replicas).sorted() {
            guard let parent = RelayTree.upstream(of: node, session: "s", replicas: Self.replicas, alive: alive),
                !Self.replicas.contains(parent)
            else { continue }
            // The parent, a relay itself, avoids its child: it never picks it.
            let grand = RelayTree.upstream(
                of: parent,
                session: "s",
                replicas: Self.replicas,
                alive: alive,
                avoiding: [node]
            )
            #expect(grand != node && grand != nil)
        }
    }

    @Test("with no live replica there is no upstream (the relay looks the session up again)")
    func noReplicaNoUpstream() {
        #expect(RelayTree.upstream(of: "n9", session: "s", replicas: Self.replicas, alive: ["n9", "n10"]) == nil)
        #expect(
            RelayTree.upstream(of: "n9", session: "s", replicas: ["n9"], alive: ["n9", "n10"]) == nil,
            "a node is never its own upstream"
        )
    }

    @Test(
        "viewer routes: the client's request beats the node's mode; auto relays past the threshold or once relaying",
        arguments: [
            (ViewerRouteMode.auto, nil, false, 10, 100, ViewerRoute.redirect),
            (.auto, nil, false, 100, 100, .relay),
            (.auto, nil, false, nil, 100, .redirect),
            (.auto, nil, true, 0, 100, .relay),
            (.auto, .proxy, true, 1000, 100, .proxy),
            (.auto, .redirect, false, 1000, 100, .redirect),
            (.redirect, nil, true, 1000, 1, .redirect),
            (.redirect, .relay, false, 0, 100, .relay),
            (.proxy, nil, false, 0, 100, .proxy),
            (.relay, nil, false, 0, 100, .relay),
            (.relay, .auto, false, 0, 100, .relay),
            (.auto, nil, false, 1, 0, .relay),
        ] as [(ViewerRouteMode, ViewerRouteMode?, Bool, Int?, Int, ViewerRoute)]
    )
    func routes(
        mode: ViewerRouteMode,
        requested: ViewerRouteMode?,
        relaying: Bool,
        viewers: Int?,
        threshold: Int,
        expected: ViewerRoute
    ) {
        let effective: ViewerRouteMode? = requested == .auto ? nil : requested
        #expect(
            mode.route(requested: effective, relayingHere: relaying, viewersPerReplica: viewers, threshold: threshold)
                == expected
        )
    }
}
