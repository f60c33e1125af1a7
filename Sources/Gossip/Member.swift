/// The stable name of a node; survives restarts (a restart changes `Member.generation` instead).
public struct MemberID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: String

    public init(_ rawValue: String) {
        self.rawValue = rawValue
    }

    public init(from decoder: any Decoder) throws {
        self.rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    public static func < (lhs: MemberID, rhs: MemberID) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}

/// SWIM's view of a member.
///
/// At equal generation and incarnation the later states win (`alive < suspect < dead < left`), so
/// that a claim is only overturned by the member itself raising its incarnation.
public enum MemberStatus: String, Codable, Sendable, CaseIterable {
    case alive
    case suspect
    case dead
    case left

    /// Precedence at equal incarnation.
    var rank: Int {
        switch self {
        case .alive: 0
        case .suspect: 1
        case .dead: 2
        case .left: 3
        }
    }

    /// Alive and suspect members are still probed and count toward the cluster size.
    public var isActive: Bool { self == .alive || self == .suspect }
}

/// What a node reports about its work, for placement; published by raising the incarnation (as
/// memberlist does for metadata updates), so it rides on the same ordering as the status.
public struct MemberLoad: Codable, Sendable, Equatable, Hashable {
    public var sessions: Int
    public var viewers: Int

    public init(sessions: Int = 0, viewers: Int = 0) {
        self.sessions = sessions
        self.viewers = viewers
    }
}

/// One member as gossiped: identity, where to reach it, and its SWIM state.
public struct Member: Codable, Sendable, Equatable {
    public var id: MemberID
    /// The advertised base URL, e.g. "http://127.0.0.1:7001"; every send directive targets it.
    public var address: String
    public var zone: String?
    /// Changes on every restart. A higher generation supersedes any state of a lower one for the same
    /// id, which fences everything a previous process said or was said about it.
    public var generation: UInt64
    /// Raised only by the member itself: to refute a suspicion, to leave, or to publish new load.
    public var incarnation: UInt64
    public var status: MemberStatus
    public var load: MemberLoad
    /// The member's Vivaldi coordinate, as last heard from it (nil until known).
    public var coordinate: VivaldiCoordinate?

    public init(
        id: MemberID,
        address: String,
        zone: String? = nil,
        generation: UInt64,
        incarnation: UInt64 = 0,
        status: MemberStatus = .alive,
        load: MemberLoad = MemberLoad(),
        coordinate: VivaldiCoordinate? = nil
    ) {
        self.id = id
        self.address = address
        self.zone = zone
        self.generation = generation
        self.incarnation = incarnation
        self.status = status
        self.load = load
        self.coordinate = coordinate
    }
}

extension Member {
    /// Whether this record should replace `other` (same id): a higher generation always wins, a lower
    /// one never; within a generation (incarnation, status rank) is compared lexicographically. That
    /// is a total order, so every node that has seen the same records holds the same winner.
    func supersedes(_ other: Member) -> Bool {
        if generation != other.generation { return generation > other.generation }
        if incarnation != other.incarnation { return incarnation > other.incarnation }
        return status.rank > other.status.rank
    }

    /// The record with its Vivaldi coordinate dropped; gossip about third parties does not carry it
    /// (coordinates are taken only from the member itself).
    var withoutCoordinate: Member {
        var copy = self
        copy.coordinate = nil
        return copy
    }
}
