/// Where each node that serves a session's viewers without holding a replica (an edge relay,
/// issue 17) pulls the session from: a pure function of the session, its replicas and the
/// cluster's members, so every node computes the same tree with no coordination.
///
/// Non-replica nodes are ranked by rendezvous hashing (highest random weight: XXH64 of the
/// session and the node), and laid out in levels: the first `replicas × fanout` feed directly
/// from a replica, the next `replicas × fanout²` from a relay of the first level, and so on. A
/// node's parent in the level above is again chosen by rendezvous hashing, preferring parents
/// in its own zone (the nearest copy). So:
/// - no cycles: a parent is always one level up, and level 0 is the replica set;
/// - a replica feeds about `fanout` relays, a relay about `fanout` more, however many nodes
///   relay (with 3 replicas and a fanout of 16: 48 relays on replicas, 768 below them);
/// - a membership change moves few relays: a join or a loss shifts the ranking by one place, so
///   at most one node crosses each level boundary, and rendezvous hashing re-parents only the
///   children of the nodes that moved or left.
public struct RelayTree: Sendable, Equatable {
    public struct Settings: Sendable, Hashable {
        /// Relays one copy feeds. Default 16: a replica's egress stays a few dozen streams.
        public var fanout: Int = 16
        public init(fanout: Int = 16) { self.fanout = fanout }
    }

    public let session: String
    /// Level 0.
    public let replicas: [String]
    /// Every node by level, level 0 the replicas; within a level, by rank.
    public let levels: [[String]]
    private let parents: [String: String]

    /// The tree of `session` over `nodes` (every member that may relay; replicas may be among
    /// them or not), with `zones` of nodes that have one.
    public init(
        session: String,
        replicas: [String],
        nodes: some Sequence<String>,
        zones: [String: String] = [:],
        settings: Settings = Settings()
    ) {
        let fanout = max(1, settings.fanout)
        let replicaSet = Set(replicas)
        let sortedReplicas = replicas.sorted { utf8Precedes($0, $1) }
        let ranked = Set(nodes).subtracting(replicaSet).map { ($0, Self.weight(session, $0)) }
            .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : utf8Precedes($0.0, $1.0) }.map(\.0)
        var levels = [sortedReplicas]
        var rest = ranked[...]
        var width = max(1, sortedReplicas.count) * fanout
        while !rest.isEmpty {
            levels.append(Array(rest.prefix(width)))
            rest = rest.dropFirst(width)
            width = width.multipliedReportingOverflow(by: fanout).overflow ? Int.max : width * fanout
        }
        var parents: [String: String] = [:]
        if !sortedReplicas.isEmpty {
            for depth in levels.indices.dropFirst() {
                let above = levels[depth - 1]
                for node in levels[depth] {
                    let zone = zones[node]
                    let near = zone == nil ? [] : above.filter { zones[$0] == zone }
                    let pool = near.isEmpty ? above : near
                    parents[node] = pool.max { a, b in
                        let wa = Self.weight(session, node, a)
                        let wb = Self.weight(session, node, b)
                        return wa != wb ? wa < wb : utf8Precedes(b, a)
                    }
                }
            }
        }
        self.session = session
        self.replicas = sortedReplicas
        self.levels = levels
        self.parents = parents
    }

    /// The copy `node` pulls the session from: a replica or a relay one level up. Nil for a
    /// replica, a node the tree does not know, or a session without replicas.
    public func upstream(of node: String) -> String? { parents[node] }

    /// 0 for a replica, 1 for a relay fed by a replica, ...; nil for a node the tree does not know.
    public func level(of node: String) -> Int? { levels.firstIndex { $0.contains(node) } }

    /// The nodes `node` feeds.
    public func children(of node: String) -> [String] {
        parents.filter { $0.value == node }.map(\.key).sorted { utf8Precedes($0, $1) }
    }

    /// The chain from `node` up to a replica, `node` first (just `node` for a replica).
    public func path(from node: String) -> [String] {
        var chain = [node]
        while let next = parents[chain.last!], chain.count <= levels.count { chain.append(next) }
        return chain
    }

    static func weight(_ parts: String...) -> UInt64 {
        StableHash.hash(parts.joined(separator: "\u{0}"), seed: 0x7265_6C61_7973)
    }
}
