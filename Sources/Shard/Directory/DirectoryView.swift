/// What gossip tells a node's session directory about the cluster, as one consistent picture.
///
/// The shell builds it from its membership view on every change; the directory never asks
/// gossip anything itself, so a simulation can feed it the views of a simulated gossip core.
public struct DirectoryView: Sendable {
    /// A member's state as the directory needs it (gossip's four states).
    public enum MemberState: Sendable, Hashable {
        case alive
        case suspect
        case dead
        case left
    }

    /// This node's id.
    public var selfID: String
    /// Every member gossip knows, with its state.
    public var members: [String: MemberState]
    /// Members that announced a drain (this node included while it drains): they hold no new
    /// replicas and are replaced in every replica set.
    public var draining: Set<String>
    /// The placement ring: alive and suspect members (a brief suspicion moves nothing).
    public var ring: HashRing
    /// The ring over every member not known to have left, dead ones included: where a group's
    /// copies may sit while a holder restarts or a stale view calls it dead.
    public var holderRing: HashRing
    /// When this node first saw each dead member dead.
    public var deadSince: [String: ReplicationTime]
    /// Whether this node has joined the cluster (heard from a peer): before that it knows only
    /// itself and must not call any group empty.
    public var joined: Bool
    /// When this node joined, if it knows (nil: long ago). For `DirectorySettings.joinSettle`
    /// after it, a lookup that found nothing is not certain: the view may still be partial.
    public var joinedAt: ReplicationTime?

    public init(
        selfID: String,
        members: [String: MemberState],
        draining: Set<String> = [],
        ring: HashRing,
        holderRing: HashRing? = nil,
        deadSince: [String: ReplicationTime] = [:],
        joined: Bool,
        joinedAt: ReplicationTime? = nil
    ) {
        self.selfID = selfID
        self.members = members
        self.draining = draining
        self.ring = ring
        self.holderRing = holderRing ?? ring
        self.deadSince = deadSince
        self.joined = joined
        self.joinedAt = joinedAt
    }

    /// A view of this node alone, before gossip has told anything.
    public static func alone(_ selfID: String) -> DirectoryView {
        let ring = try! HashRing(nodes: [ShardNode(id: selfID)])
        return DirectoryView(selfID: selfID, members: [selfID: .alive], ring: ring, joined: false)
    }

    /// Alive members.
    public var alive: Set<String> { Set(members.filter { $0.value == .alive }.keys) }

    /// Members that keep their places in replica sets: alive or suspect, not draining. A suspect
    /// member stays (a false suspicion must not move replicas); dead, left and draining ones go.
    public var present: Set<String> {
        Set(members.filter { $0.value == .alive || $0.value == .suspect }.keys).subtracting(draining)
    }

    /// Members gossip no longer holds alive: a copy whose primary is among them campaigns.
    public var lost: Set<String> { Set(members.filter { $0.value != .alive }.keys) }

    /// The group's preference list: every placed node, best first.
    public func preferenceList(for group: String) -> [String] {
        ring.preferenceList(for: Self.placementKey(group), count: ring.nodes.count)
    }

    /// Where on the ring a group's sessions go: a group's own log (`~<group>`, the Live module's
    /// `GroupLog`) is placed with the group, so one primary usually leads both and can send the
    /// group's webhooks in one order.
    public static func placementKey(_ group: String) -> String {
        group.hasPrefix("~") ? String(group.dropFirst()) : group
    }
}
