/// What a membership change does to one group's replica set.
public struct GroupMove: Hashable, Sendable, Codable {
    public var group: String
    /// Nodes that must receive a copy (snapshot plus log tail), in the new preference order.
    public var gained: [String]
    /// Nodes that may drop their copy once the gained ones have caught up, in the old order.
    public var lost: [String]
    public var primaryBefore: String?
    public var primaryAfter: String?

    public init(group: String, gained: [String], lost: [String], primaryBefore: String?, primaryAfter: String?) {
        self.group = group
        self.gained = gained
        self.lost = lost
        self.primaryBefore = primaryBefore
        self.primaryAfter = primaryAfter
    }
}

/// Counts over a whole plan, for logs, metrics and the operator.
public struct PlacementSummary: Hashable, Sendable, Codable {
    public var groups: Int
    /// Groups whose replica set or primary changes.
    public var groupsChanged: Int
    public var primariesMoved: Int
    /// Replica copies to create (sum of `gained`); equals copies dropped unless the set size changes.
    public var replicaSlotsGained: Int
    public var replicaSlotsLost: Int
    /// Copies held after the change: groups × min(replicas, nodes).
    public var replicaSlotsAfter: Int
    /// Copies each node must take in, and may drop, keyed by node id (only nodes with work).
    public var gainedByNode: [String: Int]
    public var lostByNode: [String: Int]
}

public struct PlacementPlan: Hashable, Sendable, Codable {
    /// Changed groups only, ordered by group id bytes.
    public var moves: [GroupMove]
    public var summary: PlacementSummary
}

/// Lists, for a change from one node set to another, which groups gain and lose which replicas.
///
/// Pure and deterministic: handoff and drain run it on the old and the new membership, and every
/// node that runs it with the same inputs gets the same plan. It says where copies should end up;
/// who is primary during the move is decided by the session's epoch, not by this plan.
public struct PlacementPlanner: Sendable {
    public var settings: PlacementSettings

    public init(settings: PlacementSettings = PlacementSettings()) {
        self.settings = settings
    }

    public func plan(
        from oldNodes: some Sequence<ShardNode>,
        to newNodes: some Sequence<ShardNode>,
        groups: some Sequence<String>
    ) throws(PlacementError) -> PlacementPlan {
        let sortedGroups = Array(Set(groups)).sorted(by: utf8Precedes)
        let before = try Placement(nodes: oldNodes, groups: sortedGroups, settings: settings)
        let after = try Placement(nodes: newNodes, groups: sortedGroups, settings: settings)

        var moves: [GroupMove] = []
        var summary = PlacementSummary(
            groups: sortedGroups.count,
            groupsChanged: 0,
            primariesMoved: 0,
            replicaSlotsGained: 0,
            replicaSlotsLost: 0,
            replicaSlotsAfter: 0,
            gainedByNode: [:],
            lostByNode: [:]
        )
        for group in sortedGroups {
            let old = before.preferenceList(for: group)
            let new = after.preferenceList(for: group)
            summary.replicaSlotsAfter += new.count
            let gained = new.filter { !old.contains($0) }
            let lost = old.filter { !new.contains($0) }
            let move = GroupMove(
                group: group,
                gained: gained,
                lost: lost,
                primaryBefore: old.first,
                primaryAfter: new.first
            )
            guard !gained.isEmpty || !lost.isEmpty || move.primaryBefore != move.primaryAfter else { continue }
            moves.append(move)
            summary.groupsChanged += 1
            if move.primaryBefore != move.primaryAfter { summary.primariesMoved += 1 }
            summary.replicaSlotsGained += gained.count
            summary.replicaSlotsLost += lost.count
            for node in gained { summary.gainedByNode[node, default: 0] += 1 }
            for node in lost { summary.lostByNode[node, default: 0] += 1 }
        }
        return PlacementPlan(moves: moves, summary: summary)
    }
}

/// One membership's answer for a known list of groups, in whichever mode the settings ask for.
private struct Placement {
    let ring: HashRing
    let bounded: BoundedLoadPlacement?
    let replicas: Int

    init(nodes: some Sequence<ShardNode>, groups: [String], settings: PlacementSettings) throws(PlacementError) {
        ring = try HashRing(nodes: nodes, vnodesPerNode: settings.vnodesPerNode)
        replicas = settings.replicas
        switch settings.mode {
        case .ring: bounded = nil
        case .boundedLoad: bounded = try BoundedLoadPlacement(ring: ring, keys: groups, epsilon: settings.epsilon)
        }
    }

    func preferenceList(for group: String) -> [String] {
        if let bounded { return bounded.preferenceList(for: group, count: replicas) }
        return ring.preferenceList(for: group, count: replicas)
    }
}
