extension SessionDirectory {
    /// Whether "no node answered with a copy" proves `group` has no live session, given the nodes
    /// that answered "none" (this one included).
    ///
    /// Not before this node has joined (a node just restarted knows only itself, and would call
    /// every group empty); not while this node is cut off (one that sees fewer nodes alive than a
    /// replica set cannot tell a session away from one out of reach); and only if every node where
    /// the group's replicas belong has answered: those of the placement ring (suspect nodes
    /// included), and those of the holder ring (dead nodes included), except nodes dead for longer
    /// than `deadHolderGrace` (replaced by now). The latter covers a view that calls a holder dead
    /// while it restarts, or before gossip hears it is back.
    public static func verdict(
        group: String,
        answered: Set<String>,
        view: DirectoryView,
        settings: DirectorySettings,
        now: ReplicationTime
    ) -> LookupVerdict {
        guard view.joined else { return .uncertain }
        if let joinedAt = view.joinedAt, now < joinedAt + settings.joinSettle { return .uncertain }
        if view.alive.count < min(settings.replicas, view.members.count) { return .uncertain }
        let placed = view.ring.preferenceList(for: DirectoryView.placementKey(group), count: settings.replicas)
        guard placed.allSatisfy(answered.contains) else { return .uncertain }
        let holders = view.holderRing.preferenceList(for: DirectoryView.placementKey(group), count: settings.replicas)
        let covered = holders.allSatisfy { node in
            if answered.contains(node) { return true }
            guard let since = view.deadSince[node] else { return false }
            return now - since > settings.deadHolderGrace
        }
        return covered ? .certainlyNone : .uncertain
    }

    /// The verdict with this directory's view and settings.
    public func verdict(group: String, answered: Set<String>, now: ReplicationTime) -> LookupVerdict {
        Self.verdict(group: group, answered: answered, view: view, settings: settings, now: now)
    }

    /// The other alive nodes most likely to hold a copy of the group's session, best placed
    /// first: its replicas sit at the head of its preference list, give or take the two places a
    /// replacement or a rebalance in progress may have moved them.
    public static func likelyHolders(group: String, view: DirectoryView, settings: DirectorySettings) -> [String] {
        let alive = view.alive
        return Array(
            view.preferenceList(for: group).filter { alive.contains($0) && $0 != view.selfID }
                .prefix(settings.replicas + 2)
        )
    }

    /// The likely holders on this directory's view.
    public func likelyHolders(group: String) -> [String] {
        Self.likelyHolders(group: group, view: view, settings: settings)
    }
}
