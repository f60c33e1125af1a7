/// How a node answers a viewer of a session it holds no replica of (`--route`, API.md "Hot
/// sessions: edge relays").
public enum ViewerRouteMode: String, Sendable, CaseIterable {
    /// Redirect while the session's replicas have room; relay once its viewers per replica pass
    /// the threshold (or while this node already relays it). The default.
    case auto
    /// Always serve the viewer from a relay copy here.
    case relay
    /// Always `307` to the nearest replica.
    case redirect
    /// Always proxy the viewer's request to the nearest replica (one upstream stream per viewer).
    case proxy
}

/// What a node does with one viewer of a session it holds no replica of.
public enum ViewerRoute: Sendable, Equatable {
    case redirect
    case proxy
    case relay
}

extension ViewerRouteMode {
    /// The route for one viewer, from the node's mode, what the client asked for (`Qunbo-Route`,
    /// nil when it asked for nothing or `auto`), whether this node already relays the session,
    /// and the session's viewers on the replica that answered the lookup (nil when unknown).
    ///
    /// A node that already relays the session keeps serving its new viewers in `auto`: the
    /// upstream pull is paid for, and redirecting below the threshold again would flip viewers
    /// back and forth as the replica's own count drops (its viewers moved to relays).
    public func route(
        requested: ViewerRouteMode?,
        relayingHere: Bool,
        viewersPerReplica: Int?,
        threshold: Int
    ) -> ViewerRoute {
        switch requested ?? self {
        case .redirect: .redirect
        case .proxy: .proxy
        case .relay: .relay
        case .auto: relayingHere || (viewersPerReplica ?? 0) >= max(1, threshold) ? .relay : .redirect
        }
    }
}

extension RelayTree {
    /// The copy `me` should pull `session` from: its parent in the tree over the nodes alive now,
    /// leaving out `avoiding` (an upstream that just failed it, the relays it feeds itself, so
    /// two nodes whose views disagree for a moment never feed each other). Nil when no replica
    /// of `replicas` is alive and not avoided: the caller looks the session up again.
    ///
    /// Every node with the same view picks the same parent (the tree is a pure function of the
    /// session and the members); a parent that is down is left out by gossip's view, so its
    /// children move to the parent the tree gives without it.
    public static func upstream(
        of me: String,
        session: String,
        replicas: [String],
        alive: Set<String>,
        zones: [String: String] = [:],
        avoiding: Set<String> = [],
        settings: Settings = Settings()
    ) -> String? {
        let usable = alive.subtracting(avoiding)
        let live = replicas.filter { usable.contains($0) && $0 != me }
        guard !live.isEmpty else { return nil }
        let tree = RelayTree(
            session: session,
            replicas: live,
            nodes: usable.union([me]),
            zones: zones,
            settings: settings
        )
        return tree.upstream(of: me)
    }
}
