/// A user's role in a group, as the `groups` claim of the access token carries it.
public enum LiveRole: String, Codable, Sendable, CaseIterable {
    /// Someone the host app let in by a share link (API.md, Group-live features): watches,
    /// likes, comments, asks and clicks products; never starts a live, tips, sends or grabs red
    /// packets. Ranks as a member for moderation.
    case guest
    case member
    case admin
    case owner
}

/// Who issues a command: the token's `sub`, `name`, and the role its `groups` claim gives in the
/// session's group (`nil`: not a member).
public struct LiveActor: Sendable, Equatable, Codable {
    /// The user id (`sub`); the Node has already checked it against `IdentifierRule.user`.
    public var user: String
    /// The display name (`name` claim), copied into the events the actor causes.
    public var name: String?
    /// The role in the session's group, or `nil` when the token does not list the group.
    public var role: LiveRole?
    /// The group the actor acts through when it is not the session's own: a group the live was
    /// shared into. Copied into the events they cause (API `group`).
    public var group: String?

    public init(user: String, name: String? = nil, role: LiveRole?, group: String? = nil) {
        self.user = user
        self.name = name
        self.role = role
        self.group = group
    }
}
