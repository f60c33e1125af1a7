/// A moderation action (`"action"` of `POST …/live/moderation`).
public enum LiveModerationAction: String, Codable, Sendable, CaseIterable {
    case mute
    case unmute
    case kick
}

/// A request to change a session, before validation. `LiveSession.decide` turns it into an event
/// (or a refusal); only events change state.
public enum LiveCommand: Sendable, Equatable, Codable {
    /// `POST /v1/groups/{g}/live`: any member.
    case start(title: String, record: Bool)
    /// `POST …/comments`: any member; `clientID` is the API's `id`.
    case comment(text: String, clientID: String)
    /// `POST …/tips`: any member; `amount` in cents (minor units), `currency` `[A-Z]{3}`.
    case tip(amount: Int64, currency: String, clientID: String)
    /// `POST …/questions`: any member.
    case question(text: String, clientID: String)
    /// `POST …/questions/{seq}/highlight`: host, owner, admin.
    case highlight(questionSeq: UInt64)
    /// `POST …/pins`: host, owner, admin.
    case pin(text: String)
    /// `DELETE …/pins`: host, owner, admin.
    case unpin
    /// `POST …/moderation`: host, owner, admin.
    case moderate(action: LiveModerationAction, user: String)
    /// `DELETE /v1/groups/{g}/live`: host, owner, admin.
    case end
    /// `POST …/likes`: any member; counted, not logged.
    case like(count: Int)

    /// The idempotency key the command carries, if it is one of the keyed writes.
    public var clientID: String? {
        switch self {
        case .comment(_, let id), .tip(_, _, let id), .question(_, let id): id
        default: nil
        }
    }

    /// Whether only the host, an owner or an admin may issue it.
    public var isPrivileged: Bool {
        switch self {
        case .highlight, .pin, .unpin, .moderate, .end: true
        case .start, .comment, .tip, .question, .like: false
        }
    }

    /// The event type a successful keyed write logs (used to tell a retry from a reused key).
    var keyedEventType: LiveEventType? {
        switch self {
        case .comment: .comment
        case .tip: .tip
        case .question: .question
        default: nil
        }
    }
}

/// What `LiveSession.decide` concluded.
public enum LiveDecision: Sendable, Equatable {
    /// Log this event (its seq is `lastSeq + 1`). It is NOT applied yet: the caller replicates it
    /// and calls `apply` once it is durable, before deciding the next command.
    case append(LiveEvent)
    /// The same user already logged a write with this idempotency key: answer with the first
    /// write's seq and apply nothing.
    case duplicate(seq: UInt64)
    /// Likes were counted and applied to the state at once; the new total.
    case likes(total: Int64)
}
