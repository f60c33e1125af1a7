/// A group's own replicated log (issue 16): what belongs to the group rather than to one live,
/// today its scheduled lives and the reminders fired for them.
///
/// It is a session like any other (placed, replicated, failed over, caught up and drained by the
/// same machinery) that lives under a name no client group can have, `~<group>`, and never ends:
/// a schedule exists before any live and outlives each one.
public enum GroupLog {
    /// The reserved prefix: `~` is outside `[A-Za-z0-9_-]`, so no client group collides.
    public static let prefix = "~"

    /// The name the log of `group` is kept under.
    public static func logGroup(of group: String) -> String { prefix + group }

    /// The client group a log name stands for; nil for an ordinary group.
    public static func owner(of logGroup: String) -> String? {
        logGroup.hasPrefix(prefix) ? String(logGroup.dropFirst(prefix.count)) : nil
    }

    public static func isLog(_ group: String) -> Bool { group.hasPrefix(prefix) }

    /// Whether a node may hold a session of `group`: a client group, or a client group's log
    /// (checked on names that come from peers and from the data dir).
    public static func isSessionGroup(_ group: String) -> Bool {
        IdentifierRule.group.accepts(owner(of: group) ?? group)
    }

    /// Who opens a group log and fires its reminders: no client has this user id (`@` is not in
    /// `[A-Za-z0-9_.-]`), so nobody can impersonate it through a token.
    public static let systemUser = "@qunbo"
}

/// One scheduled live (预告) in a group log.
public struct LiveSchedule: Codable, Sendable, Equatable {
    public var id: String
    public var author: String
    public var title: String
    /// ms since the Unix epoch.
    public var startsAt: Int64
    /// The seq of the `scheduled` event (the answer to a repeated identical schedule).
    public var seq: UInt64
    /// Reminders fired: `lead` (at `startsAt − lead`) and `start` (at `startsAt`).
    public var reminded: Set<LiveReminderKind> = []
}

/// When a reminder fires.
public enum LiveReminderKind: String, Codable, Sendable, CaseIterable, Comparable {
    /// At `startsAt − --reminder-lead`.
    case lead
    /// At `startsAt`.
    case start

    public static func < (a: Self, b: Self) -> Bool { a == .lead && b == .start }
}

/// `POST /v1/groups/{g}/schedule` before validation.
public struct LiveScheduleDraft: Codable, Sendable, Equatable {
    public var id: String
    public var title: String
    /// ms since the Unix epoch.
    public var startsAt: Int64

    public init(id: String, title: String, startsAt: Int64) {
        self.id = id
        self.title = title
        self.startsAt = startsAt
    }
}
