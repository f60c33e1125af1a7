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
    /// `POST …/redpackets`: any member but a guest. The split is decided by `decide`.
    case redPacket(total: Int64, currency: String, shares: Int, clientID: String)
    /// `POST …/redpackets/{id}/grab`: any member but a guest.
    case grab(redPacket: String)
    /// The primary's own: a red packet's TTL passed, or the live is ending, with shares left.
    /// Never sent by a client (no route makes it); privileged.
    case expireRedPacket(String)
    /// `POST …/products`: host, owner, admin.
    case product(LiveProductDraft)
    /// `POST …/products/{id}/spotlight`: host, owner, admin.
    case spotlight(product: String)
    /// `POST …/products/{id}/clicks`: anyone in the group; logged once per user and product.
    case click(product: String)
    /// `POST …/board`: the host, an owner or an admin.
    case board(LiveBoardDraft)
    /// Starts a share pointer in a group the live `from` (`"<group>/<session>"`) is shared into.
    case startShare(from: String, title: String, record: Bool)
    /// `POST …/shares`: host, owner, admin (the Node checks the rights in the other group).
    case share(group: String)
    /// `DELETE …/shares/{g2}`: host, owner, admin.
    case unshare(group: String)
    /// Group log: `POST /v1/groups/{g}/schedule`, any member but a guest.
    case schedule(LiveScheduleDraft)
    /// Group log: `DELETE …/schedule/{id}`, its author, an owner or an admin.
    case unschedule(String)
    /// Group log, the primary's timer only (no route makes it): a reminder is due.
    case remind(schedule: String, kind: LiveReminderKind)
    /// Group log: a live started naming the schedule it fulfils (`session`: the live's id).
    case fulfil(schedule: String, session: String)

    /// The idempotency key the command carries, if it is one of the keyed writes.
    public var clientID: String? {
        switch self {
        case .comment(_, let id), .tip(_, _, let id), .question(_, let id), .redPacket(_, _, _, let id): id
        default: nil
        }
    }

    /// Whether only the host, an owner or an admin may issue it.
    public var isPrivileged: Bool {
        switch self {
        case .highlight, .pin, .unpin, .moderate, .end, .expireRedPacket, .product, .spotlight, .board, .share,
            .unshare, .remind:
            true
        case .start, .startShare, .comment, .tip, .question, .like, .redPacket, .grab, .click, .schedule, .unschedule,
            .fulfil:
            false
        }
    }

    /// Whether a guest (share-link visitor) is refused it: starting, and anything with money.
    public var refusedToGuests: Bool {
        switch self {
        case .start, .startShare, .tip, .redPacket, .grab, .schedule, .fulfil: true
        default: false
        }
    }

    /// The event type a successful keyed write logs (used to tell a retry from a reused key).
    var keyedEventType: LiveEventType? {
        switch self {
        case .comment: .comment
        case .tip: .tip
        case .question: .question
        case .redPacket: .redpacket
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

/// A product card as `POST …/products` sends it, before validation.
public struct LiveProductDraft: Sendable, Equatable, Codable {
    public var id: String
    public var title: String
    /// Cents (minor units).
    public var price: Int64
    public var currency: String
    public var url: String?
    public var image: String?

    public init(id: String, title: String, price: Int64, currency: String, url: String? = nil, image: String? = nil) {
        self.id = id
        self.title = title
        self.price = price
        self.currency = currency
        self.url = url
        self.image = image
    }
}

/// A board event as `POST …/board` sends it, before validation: coordinates as the client's
/// numbers (0…1), quantized by `decide`.
public struct LiveBoardDraft: Sendable, Equatable, Codable {
    public var kind: LiveBoard.Kind
    /// `slide`.
    public var url: String?
    public var page: Int?
    /// `stroke`: `[[x, y], …]`.
    public var points: [[Double]]?
    public var color: String?
    public var width: Double?

    public init(
        kind: LiveBoard.Kind,
        url: String? = nil,
        page: Int? = nil,
        points: [[Double]]? = nil,
        color: String? = nil,
        width: Double? = nil
    ) {
        self.kind = kind
        self.url = url
        self.page = page
        self.points = points
        self.color = color
        self.width = width
    }
}
