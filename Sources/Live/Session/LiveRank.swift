/// Standing in a session for moderation: owner > admin > member; the session's host acts as an
/// admin (an owner who hosts stays an owner).
///
/// The rule (API.md, moderation): an actor may mute, unmute or kick a user only when the actor
/// ranks strictly above that user. So nobody acts on an owner, admins (and hosts) act on members
/// only, and the host is never moderated in their own live.
public enum LiveRank: Int, Codable, Sendable, Comparable {
    case member = 0
    case admin = 1
    case owner = 2

    public static func < (a: LiveRank, b: LiveRank) -> Bool { a.rawValue < b.rawValue }

    /// The rank a group role gives.
    public init(_ role: LiveRole) {
        switch role {
        case .guest, .member: self = .member
        case .admin: self = .admin
        case .owner: self = .owner
        }
    }

    /// The rank of `user` holding `role` in a session hosted by `host`.
    public init(role: LiveRole, user: String, host: String) {
        let own = LiveRank(role)
        self = user == host ? max(own, .admin) : own
    }
}
