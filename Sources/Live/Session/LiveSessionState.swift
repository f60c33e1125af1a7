/// The idempotency key of a keyed write: the same `id` from another user is another write.
public struct LiveIdempotencyKey: Hashable, Codable, Sendable {
    public var user: String
    public var clientID: String

    public init(user: String, clientID: String) {
        self.user = user
        self.clientID = clientID
    }
}

/// What a keyed write logged: its seq (the answer to retries) and its kind (so a key reused for
/// a different kind of write is refused instead of answered with an unrelated seq).
public struct LiveIdempotencyRecord: Hashable, Codable, Sendable {
    public var seq: UInt64
    public var type: LiveEventType

    public init(seq: UInt64, type: LiveEventType) {
        self.seq = seq
        self.type = type
    }
}

/// Everything a session knows, derived only by applying its events in seq order (except the two
/// counters `likes` and `viewers`, which are not logged). `Codable` for snapshots: a snapshot
/// plus the events after its `lastSeq` rebuilds the same state.
public struct LiveSessionState: Codable, Sendable, Equatable {
    public private(set) var info: SessionInfo
    /// `pending` → `live` (on `started`) → `ended` (on `ended`); the API's `"state"`.
    public private(set) var phase: LivePhase = .pending
    /// Seq of the last applied event; 0 before `started`.
    public private(set) var lastSeq: UInt64 = 0
    /// `at` of the last applied event, so new events never go back in time.
    public private(set) var lastAt: Int64 = 0
    /// Likes so far. Counted, not logged (API.md): applied by `LiveSession.decide` at once, and
    /// carried between nodes by snapshots, not by events.
    public var likes: Int64 = 0
    /// Tips in minor units per ISO 4217 currency; each total saturates at max. Amounts in
    /// different currencies are never added together.
    public private(set) var tipsByCurrency: [String: Int64] = [:]
    /// The session's first tipped currency: the one `tipsTotal` counts. Nil before any tip.
    public private(set) var tipsCurrency: String?
    /// Users whose writes are refused (`muted`).
    public private(set) var muted: Set<String> = []
    /// Users refused everything for the rest of the session (`kicked`).
    public private(set) var kicked: Set<String> = []
    /// The rank of whoever muted or kicked a user: the refusal holds only for a caller ranking
    /// below it (`isKicked(_:rank:)`), so a moderator who did not know a user's rank (the user
    /// had written nothing yet) cannot shut out someone above them.
    public private(set) var moderatedBy: [String: LiveRank] = [:]
    /// The highest group role each user has been seen with in this session's events, so a
    /// moderation of a known user can be checked against their rank before it is logged.
    public private(set) var roles: [String: LiveRole] = [:]
    /// The pinned notice, if any.
    public private(set) var pinned: String?
    /// Question seq → highlighted.
    public private(set) var questions: [UInt64: Bool] = [:]
    /// Question seq → seq of the `highlight` event that picked it (the answer to a re-highlight).
    public private(set) var highlights: [UInt64: UInt64] = [:]
    /// Every keyed write of the session: kept whole, since retries may come until the end and
    /// the map is small per session (one entry per comment, question or tip).
    public private(set) var idempotency: [LiveIdempotencyKey: LiveIdempotencyRecord] = [:]
    /// Red packets by id (the sender's idempotency key, unique in the session).
    public private(set) var redPackets: [String: LiveRedPacket] = [:]
    /// Product cards by id, and their ids in the order first posted.
    public private(set) var products: [String: LiveProduct] = [:]
    public private(set) var productOrder: [String] = []
    /// The product in the spotlight.
    public private(set) var spotlight: String?
    /// Groups the live is shared into now → the seq of the `shared` event (API `sharedInto`).
    public private(set) var sharedInto: [String: UInt64] = [:]
    /// Every group it was ever shared into: its replay is listed there too.
    public private(set) var sharedEver: Set<String> = []
    /// Group log only: scheduled lives not cancelled or fulfilled, by id.
    public private(set) var schedules: [String: LiveSchedule] = [:]
    /// Viewers connected now; set by the Node, not logged.
    public var viewers: Int = 0

    /// A fresh, `pending` session: identity comes from whoever creates the log, everything else
    /// from the events.
    public init(id: String, group: String, epoch: UInt64) {
        info = SessionInfo(id: id, group: group, epoch: epoch)
    }

    /// The seq the next event must carry.
    public var nextSeq: UInt64 { lastSeq &+ 1 }

    /// Tips in `tipsCurrency`, in its minor units (API `tipsTotal`): 0 before any tip. Tips in
    /// other currencies are in `tipsByCurrency` only.
    public var tipsTotal: Int64 { tipsCurrency.flatMap { tipsByCurrency[$0] } ?? 0 }

    /// Whether `user`, calling with `rank`, is shut out by a kick: only by one from someone who
    /// ranked above them.
    public func isKicked(_ user: String, rank: LiveRank) -> Bool {
        kicked.contains(user) && rank < (moderatedBy[user] ?? .owner)
    }

    /// Whether `user`, calling with `rank`, is muted (same rule as `isKicked`).
    public func isMuted(_ user: String, rank: LiveRank) -> Bool {
        muted.contains(user) && rank < (moderatedBy[user] ?? .owner)
    }

    /// The rank this session knows `user` by: from the events they caused (the host counts as
    /// an admin at least); `.member` for a user it has not seen.
    public func knownRank(of user: String) -> LiveRank {
        LiveRank(role: roles[user] ?? .member, user: user, host: info.host)
    }

    /// Applies the next event of the log. Deterministic; all-or-nothing: on a throw the state is
    /// unchanged. Checks structure only (seq order, phase, payload present): whether the actor
    /// was allowed was decided before the event was logged, and replicas must not second-guess it.
    public mutating func apply(_ event: LiveEvent) throws(LiveError) {
        guard event.seq == nextSeq else { throw .outOfOrder(expected: nextSeq, got: event.seq) }
        func reject(_ reason: String) -> LiveError { .invalidEvent(seq: event.seq, reason: reason) }

        if event.type == .started {
            guard phase == .pending else { throw reject("session already started") }
        } else {
            guard phase == .live else { throw reject("session is not live") }
        }

        switch event.type {
        case .started:
            info.host = event.user
            info.title = event.title ?? ""
            info.record = event.record ?? false
            info.startedAt = event.at
            info.sharedFrom = event.ref
            phase = .live
        case .comment, .question:
            guard event.text != nil else { throw reject("\(event.type.rawValue) without text") }
            if event.type == .question { questions[event.seq] = false }
            remember(event)
        case .tip:
            guard let amount = event.amount, amount > 0, event.currency != nil else {
                throw reject("tip without a positive amount and a currency")
            }
            guard let currency = event.currency else { throw reject("tip without a currency") }
            let (sum, overflow) = tipsByCurrency[currency, default: 0].addingReportingOverflow(amount)
            tipsByCurrency[currency] = overflow ? .max : sum
            if tipsCurrency == nil { tipsCurrency = currency }
            remember(event)
        case .highlight:
            guard let target = event.targetSeq, questions[target] != nil else {
                throw reject("highlight of a seq that is not a question")
            }
            questions[target] = true
            if highlights[target] == nil { highlights[target] = event.seq }
        case .pin:
            guard let text = event.text else { throw reject("pin without text") }
            pinned = text
        case .unpin:
            pinned = nil
        case .mute, .unmute, .kick:
            guard let target = event.targetUser else { throw reject("\(event.type.rawValue) without target") }
            let moderator = LiveRank(role: event.role ?? .owner, user: event.user, host: info.host)
            switch event.type {
            case .mute:
                muted.insert(target)
                moderatedBy[target] = max(moderatedBy[target] ?? moderator, moderator)
            case .unmute:
                muted.remove(target)
                if !kicked.contains(target) { moderatedBy[target] = nil }
            default:
                kicked.insert(target)
                moderatedBy[target] = max(moderatedBy[target] ?? moderator, moderator)
            }
        case .ended:
            info.endedAt = event.at
            phase = .ended
        case .redpacket, .redpacketGrab, .redpacketExpired:
            try applyRedPacket(event)
        case .product:
            guard let id = event.clientID, let title = event.title, let price = event.amount, price >= 0,
                let currency = event.currency
            else { throw reject("product without id, title, price or currency") }
            if products[id] == nil { productOrder.append(id) }
            products[id] = LiveProduct(
                title: title,
                price: price,
                currency: currency,
                url: event.url,
                image: event.image,
                clicks: products[id]?.clicks ?? [:]
            )
        case .spotlight:
            guard let id = event.ref, products[id] != nil else { throw reject("spotlight of an unknown product") }
            spotlight = id
        case .click:
            guard let id = event.ref, products[id] != nil else { throw reject("click on an unknown product") }
            if products[id]?.clicks[event.user] == nil { products[id]?.clicks[event.user] = event.seq }
        case .board:
            guard event.board != nil else { throw reject("board without a drawing") }
        case .shared:
            guard let group = event.ref, sharedInto[group] == nil else {
                throw reject("share into a group shared into")
            }
            sharedInto[group] = event.seq
            sharedEver.insert(group)
        case .unshared:
            guard let group = event.ref, sharedInto[group] != nil else {
                throw reject("unshare of a group not shared into")
            }
            sharedInto[group] = nil
        case .scheduled, .unscheduled, .reminded, .fulfilled:
            try applySchedule(event)
        }
        if let role = event.role, roles[event.user].map({ LiveRank($0) < LiveRank(role) }) ?? true {
            roles[event.user] = role
        }
        lastSeq = event.seq
        lastAt = max(lastAt, event.at)
    }

    /// The red-packet events: the split must add up and each grab must hand out the next share
    /// of it, so a replica never applies a log in which a packet pays out more than it holds.
    private mutating func applyRedPacket(_ event: LiveEvent) throws(LiveError) {
        func reject(_ reason: String) -> LiveError { .invalidEvent(seq: event.seq, reason: reason) }
        switch event.type {
        case .redpacket:
            guard let id = event.clientID, let total = event.amount, let currency = event.currency,
                let amounts = event.amounts, let expiresAt = event.expiresAt, !amounts.isEmpty,
                amounts.allSatisfy({ $0 >= 1 }), amounts.reduce(0, +) == total
            else { throw reject("red packet whose shares do not add up to its total") }
            guard redPackets[id] == nil else { throw reject("red packet id \(id) sent twice") }
            redPackets[id] = LiveRedPacket(
                sender: event.user,
                total: total,
                currency: currency,
                amounts: amounts,
                expiresAt: expiresAt
            )
            remember(event)
        case .redpacketGrab:
            guard let id = event.ref, let packet = redPackets[id], packet.open, packet.grabs[event.user] == nil,
                event.amount == packet.amounts[packet.grabs.count]
            else { throw reject("grab that is not the next share of an open red packet") }
            redPackets[id]?.grabs[event.user] = LiveRedPacket.Grab(
                seq: event.seq,
                amount: packet.amounts[packet.grabs.count]
            )
        default:
            guard let id = event.ref, let packet = redPackets[id], packet.open, event.amount == packet.remainder
            else { throw reject("expiry that does not return an open red packet's remainder") }
            redPackets[id]?.expired = true
        }
    }

    /// The group log's events: a schedule is added once, then reminded of (each kind once) and
    /// removed by its cancellation or fulfilment.
    private mutating func applySchedule(_ event: LiveEvent) throws(LiveError) {
        func reject(_ reason: String) -> LiveError { .invalidEvent(seq: event.seq, reason: reason) }
        guard GroupLog.isLog(info.group) else { throw reject("schedule event outside a group log") }
        guard let id = event.ref else { throw reject("schedule event without a schedule id") }
        switch event.type {
        case .scheduled:
            guard schedules[id] == nil, let title = event.title, let startsAt = event.expiresAt else {
                throw reject("schedule \(id) added twice or without title and start")
            }
            schedules[id] = LiveSchedule(id: id, author: event.user, title: title, startsAt: startsAt, seq: event.seq)
        case .reminded:
            guard let kind = event.text.flatMap(LiveReminderKind.init(rawValue:)), schedules[id] != nil,
                schedules[id]?.reminded.contains(kind) == false
            else { throw reject("reminder of an unknown schedule, or fired twice") }
            schedules[id]?.reminded.insert(kind)
        default:
            guard schedules.removeValue(forKey: id) != nil else { throw reject("unknown schedule \(id)") }
        }
    }

    /// The reminders due at `now` with `leadMillis` of lead: for each schedule, `start` once its
    /// time came, else `lead` once within the lead. A primary that was away past a schedule's
    /// start fires only `start` (a "starts in 10 minutes" after the start would mislead).
    public func dueReminders(now: Int64, leadMillis: Int64) -> [(schedule: String, kind: LiveReminderKind)] {
        schedules.values.sorted { ($0.startsAt, $0.id) < ($1.startsAt, $1.id) }.compactMap { s in
            if s.reminded.contains(.start) { return nil }
            if now >= s.startsAt { return (s.id, .start) }
            if !s.reminded.contains(.lead), now >= s.startsAt - leadMillis { return (s.id, .lead) }
            return nil
        }
    }

    /// When the next reminder falls due (nil: none will without a new schedule).
    public func nextReminderAt(leadMillis: Int64) -> Int64? {
        schedules.values.compactMap { s -> Int64? in
            if s.reminded.contains(.start) { return nil }
            return s.reminded.contains(.lead) ? s.startsAt : s.startsAt - leadMillis
        }.min()
    }

    /// Records a keyed write; the first write with a key wins (a second one can only come from
    /// a primary that decided twice before applying, and retries must keep getting the first).
    private mutating func remember(_ event: LiveEvent) {
        guard let clientID = event.clientID else { return }
        let key = LiveIdempotencyKey(user: event.user, clientID: clientID)
        if idempotency[key] == nil { idempotency[key] = LiveIdempotencyRecord(seq: event.seq, type: event.type) }
    }
}
