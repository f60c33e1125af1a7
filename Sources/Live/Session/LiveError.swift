/// Why the session refused a command or an event.
///
/// Every refusal maps to one API error `code` and one HTTP status here, so the Node layer renders
/// `{"error": {"code", "message"}}` from this value alone and no route picks its own status.
public enum LiveError: Error, Equatable, Sendable {
    /// The actor has no role in the group (403).
    case notAMember
    /// The actor is a member but lacks the role the command needs (403).
    case forbidden
    /// A guest (share-link visitor) asked for what only members do: start, tip, red packets (403).
    case notForGuests
    /// The actor was muted in this session (403).
    case muted
    /// The actor was kicked from this session (403).
    case kicked
    /// A moderation of someone ranking as high as the actor or higher (403): nobody below the
    /// owner acts on the owner, admins do not act on admins (`LiveRank`).
    case outranked
    /// A field of the command is malformed (400).
    case invalid(field: String, reason: String)
    /// The text matched the node's keyword filter (400).
    case filtered
    /// The actor's bucket is empty; retry after this many milliseconds (429, `Retry-After`).
    case rateLimited(retryAfterMillis: Int64)
    /// The session has not started or has ended (409: the session exists but is not live; a
    /// group with no session at all is the Node's own 404).
    case notLive
    /// The command refers to something the session does not hold (404): a highlight of a seq
    /// that is not a question, an unpin with nothing pinned.
    case notFound
    /// The command conflicts with the session: a second `start`, or an idempotency key reused
    /// for a different kind of write (409).
    case conflict
    /// What was asked for is used up for good (410): a red packet with no shares left
    /// (`"empty"`) or past its TTL (`"expired"`). The reason is the API code.
    case gone(String)
    /// `apply` got an event whose seq is not `lastSeq + 1`: a gap or a repeat. Replication bug
    /// or a stale primary; never applied (409 `conflict`).
    case outOfOrder(expected: UInt64, got: UInt64)
    /// `apply` got an event that does not fit the state (missing payload, event after `ended`,
    /// a second `started`). Never applied (409 `conflict`).
    case invalidEvent(seq: UInt64, reason: String)

    /// The API error code (API.md "Transport").
    public var code: String {
        switch self {
        case .notAMember: "not_a_member"
        case .forbidden, .notForGuests: "forbidden"
        case .muted: "muted"
        case .kicked: "kicked"
        case .outranked: "outranked"
        case .invalid: "bad_request"
        case .filtered: "filtered"
        case .rateLimited: "rate_limited"
        case .notLive: "not_live"
        case .notFound: "not_found"
        case .gone(let reason): reason
        case .conflict, .outOfOrder, .invalidEvent: "conflict"
        }
    }

    /// The HTTP status the Node answers with.
    public var httpStatus: Int {
        switch self {
        case .notAMember, .forbidden, .notForGuests, .muted, .kicked, .outranked: 403
        case .invalid, .filtered: 400
        case .rateLimited: 429
        case .notFound: 404
        case .gone: 410
        case .notLive, .conflict, .outOfOrder, .invalidEvent: 409
        }
    }

    /// A short human-readable message for the error body.
    public var message: String {
        switch self {
        case .notAMember: "not a member of this group"
        case .forbidden: "only the host, an owner or an admin may do this"
        case .notForGuests:
            "guests may watch, like, comment, ask and click products; starting a live, tips and red packets are for members"
        case .muted: "you are muted in this live session"
        case .kicked: "you were removed from this live session"
        case .outranked: "you cannot moderate someone of your rank or above (owner > admin > member)"
        case .invalid(let field, let reason): "\(field): \(reason)"
        case .filtered: "the text contains a blocked word"
        case .rateLimited(let millis): "too many requests; retry in \(millis) ms"
        case .notLive: "the session is not live"
        case .notFound: "no such item in this session"
        case .gone(let reason):
            reason == "empty" ? "every share of this red packet is taken" : "this red packet has expired"
        case .conflict: "conflicts with the session's state"
        case .outOfOrder(let expected, let got): "event seq \(got) out of order (expected \(expected))"
        case .invalidEvent(let seq, let reason): "event \(seq) does not fit the session: \(reason)"
        }
    }

    /// `Retry-After` in whole seconds (rounded up, at least 1) for `.rateLimited`, else nil.
    public var retryAfterSeconds: Int64? {
        guard case .rateLimited(let millis) = self else { return nil }
        return max(1, (millis + 999) / 1000)
    }
}
