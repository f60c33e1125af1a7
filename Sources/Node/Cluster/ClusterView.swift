import Gossip
import Shard
import Synchronization

/// The node's current picture of the cluster: gossip's member list and the placement ring
/// built from it. Read by routes on every request, replaced by the gossip shell on changes.
public final class ClusterView: Sendable {
    /// One consistent snapshot: the ring always matches the member list next to it.
    public struct Snapshot: Sendable {
        public var selfID: String
        public var members: [Member]
        public var ring: HashRing
        /// The ring over every member not known to have left, dead ones included: where a group's
        /// replicas may sit while a node restarts or a stale view calls a holder dead. A lookup
        /// that finds nothing may call the miss certain only if these places answered.
        public var holderRing: HashRing
        /// When this node first saw each dead member dead: a lookup counts a recently dead node as
        /// a possible holder, one dead for long as replaced.
        public var deadSince: [String: ContinuousClock.Instant]
        /// Bumped on every change, for cheap "did anything change" checks.
        public var version: Int

        /// Ids of the members gossip currently holds alive (not suspect, dead or left).
        public var aliveIDs: Set<String> { Set(members.filter { $0.status == .alive }.map(\.id.rawValue)) }
    }

    private let current: Mutex<Snapshot>
    /// Called with each new snapshot, outside the lock (the session directory's view).
    private let observers = Mutex<[@Sendable (Snapshot) -> Void]>([])
    public let vnodesPerNode: Int

    public init(myself: Member, vnodesPerNode: Int = PlacementSettings().vnodesPerNode) {
        self.vnodesPerNode = vnodesPerNode
        let ring = Self.ring(for: [myself], vnodes: vnodesPerNode)
        current = Mutex(
            Snapshot(
                selfID: myself.id.rawValue,
                members: [myself],
                ring: ring,
                holderRing: ring,
                deadSince: [:],
                version: 0
            )
        )
    }

    public var snapshot: Snapshot { current.withLock { $0 } }

    /// Calls `observer` with every snapshot from now on, and at once with the current one.
    public func observe(_ observer: @escaping @Sendable (Snapshot) -> Void) {
        observers.withLock { $0.append(observer) }
        observer(snapshot)
    }

    /// Replaces the member list; rebuilds the ring only when the placement set changed.
    public func update(members: [Member]) {
        let snapshot = current.withLock { snap in
            let before = Self.placementSet(snap.members)
            let after = Self.placementSet(members)
            let holdersBefore = Self.holderSet(snap.members)
            let holdersAfter = Self.holderSet(members)
            var deadSince: [String: ContinuousClock.Instant] = [:]
            for member in members where member.status == .dead {
                deadSince[member.id.rawValue] = snap.deadSince[member.id.rawValue] ?? .now
            }
            snap.deadSince = deadSince
            snap.members = members
            if before != after { snap.ring = Self.ring(over: after, vnodes: vnodesPerNode) }
            if holdersBefore != holdersAfter { snap.holderRing = Self.ring(over: holdersAfter, vnodes: vnodesPerNode) }
            snap.version += 1
            return snap
        }
        for observer in observers.withLock({ $0 }) { observer(snapshot) }
    }

    /// Members that hold placement: alive and suspect ones. A suspect keeps its groups so a
    /// brief false suspicion moves nothing; dead and left members drop out.
    static func placementSet(_ members: [Member]) -> Set<ShardNode> {
        Set(
            members.filter { $0.status == .alive || $0.status == .suspect }.map {
                ShardNode(id: $0.id.rawValue, zone: $0.zone)
            }
        )
    }

    /// Members that may hold a copy: every one not known to have left.
    static func holderSet(_ members: [Member]) -> Set<ShardNode> {
        Set(members.filter { $0.status != .left }.map { ShardNode(id: $0.id.rawValue, zone: $0.zone) })
    }

    static func ring(for members: [Member], vnodes: Int) -> HashRing {
        ring(over: placementSet(members), vnodes: vnodes)
    }

    static func ring(over nodes: Set<ShardNode>, vnodes: Int) -> HashRing {
        // Ids are unique in a member list, so the ring cannot refuse them.
        (try? HashRing(nodes: nodes, vnodesPerNode: vnodes)) ?? (try! HashRing(nodes: [], vnodesPerNode: vnodes))
    }
}
