extension SessionDirectory {
    /// The one replica-set change a primary of a live session makes now, if any (Raft allows one
    /// at a time; the next round makes the next). In order:
    ///
    /// 1. a member not present (dead, left or draining) is removed;
    /// 2. a learner that made no progress for the stall period is removed (and later re-added
    ///    afresh: a newcomer that never catches up must not leave the set one short for good);
    /// 3. a learner whose node is gone is removed;
    /// 4. with more members than the target, the worst-placed other member goes, once every other
    ///    member holds the whole log (removing a good replica while the newcomer still lags would
    ///    leave the majority to nodes that lack entries);
    /// 5. with a full set that holds a badly placed member, the best-placed alive node joins (it
    ///    replaces the badly placed one by rule 4 once it votes): a joined node takes its share;
    /// 6. with too few members and learners, the best-placed alive node not in the set joins.
    ///
    /// The primary itself never moves here (a drain hands it over first). Suspect members keep
    /// their places; newcomers must be alive and not draining.
    public static func replicaSetChange(
        _ copy: DirectoryCopy,
        me: String,
        view: DirectoryView,
        settings: DirectorySettings
    ) -> DirectoryDirective? {
        guard copy.role == .primary, copy.phase == .live else { return nil }
        let session = copy.session
        let present = view.present.union([me])
        let alive = view.alive.subtracting(view.draining)
        let preference = view.preferenceList(for: copy.group)
        let candidates = preference.filter { alive.contains($0) }
        let placement = preference.filter { present.contains($0) || $0 == me }
        // Sized by the members that keep their places (alive and suspect): a suspect node must
        // not shrink the set (in a 3-node cluster that removed a healthy member).
        let target = min(settings.replicas, max(1, present.count))

        if let gone = copy.members.first(where: { $0 != me && !present.contains($0) }) {
            return .removeReplica(session: session, node: gone, reason: .lost)
        }
        if let stalled = copy.stalledLearners.first {
            return .removeReplica(session: session, node: stalled, reason: .stalled)
        }
        if let stale = copy.learners.first(where: { !present.contains($0) }) {
            return .removeReplica(session: session, node: stale, reason: .staleLearner)
        }
        let rank = { (id: String) in placement.firstIndex(of: id) ?? Int.max }
        let ideal = Set(placement.prefix(target))
        if copy.members.count > target,
            let worst = copy.members.filter({ $0 != me }).max(by: { (rank($0), $0) < (rank($1), $1) }),
            copy.members.allSatisfy({ $0 == me || $0 == worst || copy.lag[$0] == 0 })
        {
            // The worst-placed other member goes even when it is in the ideal set: that happens
            // when the primary itself is outside it (it never moves here), and keeping it would
            // leave the set one over its size for good (the replication simulation found it).
            return .removeReplica(session: session, node: worst, reason: .rebalance)
        }
        if copy.members.count == target, copy.learners.isEmpty,
            copy.members.contains(where: { $0 != me && !ideal.contains($0) }),
            let better = placement.prefix(target).first(where: {
                !copy.members.contains($0) && candidates.contains($0)
            })
        {
            return .addReplica(session: session, node: better)
        }
        guard copy.members.count + copy.learners.count < target,
            let newcomer = candidates.first(where: { !copy.members.contains($0) && !copy.learners.contains($0) })
        else { return nil }
        return .addReplica(session: session, node: newcomer)
    }
}
