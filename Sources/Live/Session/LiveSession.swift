import Determinism

/// One live session on its primary: the event-sourced state plus the node-local guards (keyword
/// filter, rate limiters) that decide whether a command becomes an event.
///
/// Order of checks in `decide` (first failure wins):
/// 1. not a member → `.notAMember`
/// 2. keyed write (comment, tip, question) whose `(user, id)` is already logged → `.duplicate`
///    with the first seq (or `.conflict` if that key logged another kind of write). Before
///    everything else because the write already happened: answering it changes nothing, so a
///    retry gets its answer even if the user is now rate limited, muted, kicked or the session
///    has ended.
/// 3. phase: `start` when already started → `.conflict`; anything else before `started` or
///    after `ended` → `.notLive`
/// 4. kicked → `.kicked` (every command), unless the actor ranks as high as whoever kicked them
/// 5. privileged command (highlight, pin, unpin, moderate, end) by a plain member who is not
///    the host → `.forbidden`
/// 6. muted and a write (comment, question, tip, like) → `.muted`. Privileged commands are not
///    writes: a muted moderator may still moderate.
/// 7. fields → `.invalid(field:reason:)`; then references: highlight of a non-question or unpin
///    with nothing pinned → `.notFound`; moderating the host → `.forbidden`; moderating
///    yourself → `.invalid`; moderating a user whose known rank is not below the actor's
///    (`LiveRank`: owner > admin > member, the host counts as an admin) → `.outranked`. A highlight of an already highlighted question answers
///    `.duplicate` with the first highlight's seq (the route has no idempotency key).
/// 8. keyword filter (comment, question text) → `.filtered`
/// 9. rate limit → `.rateLimited` (comment, question, tip share the write bucket; likes have
///    their own). Last, so refused commands spend no tokens. `start`, `end` and the moderator
///    commands are not limited: moderators must keep up with a raid.
public struct LiveSession: Sendable {
    public private(set) var state: LiveSessionState
    public let settings: LiveSessionSettings
    public let filter: LiveKeywordFilter
    private var writeLimiter: LiveRateLimiter
    private var likeLimiter: LiveRateLimiter
    private var boardLimiter: LiveRateLimiter

    /// A session from a fresh state or a snapshot. Rate-limit settings below 1 are raised to 1.
    /// Rate-limit buckets are node-local and start full: they are not part of snapshots.
    public init(
        state: LiveSessionState,
        settings: LiveSessionSettings = LiveSessionSettings(),
        filter: LiveKeywordFilter = LiveKeywordFilter()
    ) {
        self.state = state
        self.settings = settings
        self.filter = filter
        writeLimiter = LiveRateLimiter(
            burst: max(1, settings.writeBurst),
            intervalMillis: max(1, settings.writeIntervalMillis),
            maxKeys: max(1, settings.rateLimiterMaxUsers)
        )
        likeLimiter = LiveRateLimiter(
            burst: max(1, settings.likeBurst),
            intervalMillis: max(1, settings.likeIntervalMillis),
            maxKeys: max(1, settings.rateLimiterMaxUsers)
        )
        boardLimiter = LiveRateLimiter(
            burst: max(1, settings.boardBurst),
            intervalMillis: max(1, settings.boardIntervalMillis),
            maxKeys: 64
        )
    }

    /// Applies a durable event (see `LiveSessionState.apply`).
    public mutating func apply(_ event: LiveEvent) throws(LiveError) {
        try state.apply(event)
    }

    /// Adds likes another node counted: a likes record of the replicated log (`LiveLikesRecord`).
    /// Saturates rather than overflowing.
    public mutating func addLikes(_ count: Int64) {
        let (sum, overflow) = state.likes.addingReportingOverflow(count)
        state.likes = overflow ? .max : max(0, sum)
    }

    /// Sets the viewer count (not logged).
    public mutating func setViewers(_ viewers: Int) {
        state.viewers = max(0, viewers)
    }

    /// Validates `command` by `actor` at `now` (ms since the Unix epoch) against the state.
    ///
    /// `.append` events are not applied: the caller makes them durable, then calls `apply`,
    /// and must do so (or drop the event) before deciding the next command, since the next
    /// event gets the same seq until this one is applied. Only likes and rate-limit tokens
    /// change here.
    ///
    /// `mediaMillis` is where the live's media is now (the event's `mediaTime`); `entropy` seeds
    /// the one random decision, a red packet's split, so the core stays a function of its inputs.
    public mutating func decide(
        _ command: LiveCommand,
        by actor: LiveActor,
        now: Int64,
        mediaMillis: Int64? = nil,
        entropy: UInt64 = 0
    ) -> Result<LiveDecision, LiveError> {
        guard let role = actor.role else { return .failure(.notAMember) }

        if let clientID = command.clientID, let type = command.keyedEventType,
            let record = state.idempotency[LiveIdempotencyKey(user: actor.user, clientID: clientID)]
        {
            return record.type == type ? .success(.duplicate(seq: record.seq)) : .failure(.conflict)
        }
        // A second grab or click answers the first, like a retried keyed write, whatever changed.
        switch command {
        case .grab(let id):
            if let grab = state.redPackets[id]?.grabs[actor.user] { return .success(.duplicate(seq: grab.seq)) }
        case .click(let id):
            if let seq = state.products[id]?.clicks[actor.user] { return .success(.duplicate(seq: seq)) }
        default: break
        }

        switch (state.phase, command) {
        case (.pending, .start), (.pending, .startShare): break
        case (_, .start), (_, .startShare): return .failure(.conflict)
        case (.pending, _), (.ended, _): return .failure(.notLive)
        case (.live, _): break
        }

        guard Self.fits(command, groupLog: GroupLog.isLog(state.info.group)) else { return .failure(.notFound) }
        let rank = LiveRank(role: role, user: actor.user, host: state.info.host)
        if state.isKicked(actor.user, rank: rank) { return .failure(.kicked) }
        if command.refusedToGuests, role == .guest { return .failure(.notForGuests) }
        if command.isPrivileged, role == .member || role == .guest, actor.user != state.info.host {
            return .failure(.forbidden)
        }
        switch command {
        case .comment, .question, .tip, .like, .redPacket:
            if state.isMuted(actor.user, rank: rank) { return .failure(.muted) }
        default: break
        }

        var event = LiveEvent(
            seq: state.nextSeq,
            type: .started,
            user: actor.user,
            name: actor.name,
            at: max(now, state.lastAt),
            role: role,
            mediaMillis: mediaMillis,
            group: actor.group
        )
        switch command {
        case .start(let title, let record):
            let title = LiveText.trimmed(title)
            guard title.count <= settings.maxTitleLength else {
                return .failure(.invalid(field: "title", reason: "at most \(settings.maxTitleLength) characters"))
            }
            event.title = title
            event.record = record

        case .comment(let raw, let clientID), .question(let raw, let clientID):
            let text: String
            switch validText(raw) {
            case .success(let trimmed): text = trimmed
            case .failure(let error): return .failure(error)
            }
            if let error = validKey(clientID) { return .failure(error) }
            if filter.matches(text) { return .failure(.filtered) }
            if let error = Self.spend(&writeLimiter, actor, now) { return .failure(error) }
            event.type = command.keyedEventType!
            event.text = text
            event.clientID = clientID

        case .tip(let amount, let currency, let clientID):
            guard amount > 0, amount <= settings.maxTipAmount else {
                return .failure(.invalid(field: "amount", reason: "cents from 1 to \(settings.maxTipAmount)"))
            }
            if let error = validCurrency(currency) ?? validKey(clientID) { return .failure(error) }
            if let error = Self.spend(&writeLimiter, actor, now) { return .failure(error) }
            event.type = .tip
            event.amount = amount
            event.currency = currency
            event.clientID = clientID

        case .like(let count):
            guard count >= 1, count <= settings.maxLikesPerRequest else {
                return .failure(.invalid(field: "count", reason: "from 1 to \(settings.maxLikesPerRequest)"))
            }
            if let error = Self.spend(&likeLimiter, actor, now) { return .failure(error) }
            let (sum, overflow) = state.likes.addingReportingOverflow(Int64(count))
            state.likes = overflow ? .max : sum
            return .success(.likes(total: state.likes))

        case .highlight(let questionSeq):
            guard state.questions[questionSeq] != nil else { return .failure(.notFound) }
            if let first = state.highlights[questionSeq] { return .success(.duplicate(seq: first)) }
            event.type = .highlight
            event.targetSeq = questionSeq

        case .pin(let text):
            switch validText(text) {
            case .success(let trimmed): event.text = trimmed
            case .failure(let error): return .failure(error)
            }
            event.type = .pin

        case .unpin:
            guard state.pinned != nil else { return .failure(.notFound) }
            event.type = .unpin

        case .moderate(let action, let target):
            guard IdentifierRule.user.accepts(target) else {
                return .failure(.invalid(field: "user", reason: "not a user id"))
            }
            guard target != actor.user else {
                return .failure(.invalid(field: "user", reason: "cannot moderate yourself"))
            }
            guard target != state.info.host else { return .failure(.forbidden) }
            guard state.knownRank(of: target) < rank else { return .failure(.outranked) }
            switch action {
            case .mute: event.type = .mute
            case .unmute: event.type = .unmute
            case .kick: event.type = .kick
            }
            event.targetUser = target

        case .end:
            event.type = .ended
            // A recorded live's end says so: `WebhookKind.caused(by:)` derives `replay.ready` from
            // the event alone.
            if state.info.record { event.record = true }

        case .startShare(let from, let title, let record):
            event.title = LiveText.trimmed(title)
            event.record = record
            event.ref = from

        case .share(let group):
            guard IdentifierRule.group.accepts(group), group != state.info.group, state.info.sharedFrom == nil else {
                return .failure(.invalid(field: "group", reason: "another group's id"))
            }
            if let seq = state.sharedInto[group] { return .success(.duplicate(seq: seq)) }
            guard state.sharedInto.count < settings.maxShares else {
                return .failure(.invalid(field: "group", reason: "shared into at most \(settings.maxShares) groups"))
            }
            event.type = .shared
            event.ref = group

        case .unshare(let group):
            guard state.sharedInto[group] != nil else { return .failure(.notFound) }
            event.type = .unshared
            event.ref = group

        case .redPacket(let total, let currency, let shares, let clientID):
            if let error = validKey(clientID) ?? validCurrency(currency) { return .failure(error) }
            guard (1...RedPacketSplit.maxShares).contains(shares) else {
                return .failure(.invalid(field: "shares", reason: "from 1 to \(RedPacketSplit.maxShares)"))
            }
            guard total >= Int64(shares), total <= settings.maxRedPacketTotal else {
                return .failure(
                    .invalid(field: "total", reason: "cents from the number of shares to \(settings.maxRedPacketTotal)")
                )
            }
            guard state.redPackets[clientID] == nil else { return .failure(.conflict) }
            guard state.redPackets.count < settings.maxRedPackets else {
                return .failure(.invalid(field: "id", reason: "at most \(settings.maxRedPackets) red packets a live"))
            }
            if let error = Self.spend(&writeLimiter, actor, now) { return .failure(error) }
            var random = SplitMix64(seed: entropy)
            guard let amounts = try? RedPacketSplit.split(total: total, shares: shares, using: &random) else {
                return .failure(.invalid(field: "total", reason: "at least one cent a share"))
            }
            event.type = .redpacket
            event.clientID = clientID
            event.amount = total
            event.currency = currency
            event.shares = shares
            event.amounts = amounts
            event.expiresAt = event.at + settings.redPacketTTLMillis

        case .grab(let id):
            guard let packet = state.redPackets[id] else { return .failure(.notFound) }
            // Past its TTL it is expired, even before the primary's clock logged the expiry.
            guard !packet.expired, now < packet.expiresAt else { return .failure(.gone("expired")) }
            guard packet.sharesLeft > 0 else { return .failure(.gone("empty")) }
            event.type = .redpacketGrab
            event.ref = id
            event.amount = packet.amounts[packet.grabs.count]
            event.currency = packet.currency
            event.shares = packet.sharesLeft - 1

        case .expireRedPacket(let id):
            guard let packet = state.redPackets[id] else { return .failure(.notFound) }
            guard packet.open else { return .failure(.gone(packet.expired ? "expired" : "empty")) }
            event = LiveEvent(
                seq: event.seq,
                type: .redpacketExpired,
                user: packet.sender,
                at: event.at,
                amount: packet.remainder,
                currency: packet.currency,
                ref: id,
                shares: packet.sharesLeft,
                mediaMillis: mediaMillis
            )

        case .product(let draft):
            if let error = validKey(draft.id) ?? validCurrency(draft.currency) { return .failure(error) }
            let title = LiveText.trimmed(draft.title)
            guard !title.isEmpty, title.count <= settings.maxTitleLength else {
                return .failure(.invalid(field: "title", reason: "1 to \(settings.maxTitleLength) characters"))
            }
            guard (0...settings.maxPrice).contains(draft.price) else {
                return .failure(.invalid(field: "price", reason: "cents from 0 to \(settings.maxPrice)"))
            }
            if let error = validURL(draft.url, field: "url") ?? validURL(draft.image, field: "image") {
                return .failure(error)
            }
            guard state.products[draft.id] != nil || state.products.count < settings.maxProducts else {
                return .failure(.invalid(field: "id", reason: "at most \(settings.maxProducts) products a live"))
            }
            event.type = .product
            event.clientID = draft.id
            event.title = title
            event.amount = draft.price
            event.currency = draft.currency
            event.url = draft.url
            event.image = draft.image

        case .spotlight(let id):
            guard state.products[id] != nil else { return .failure(.notFound) }
            event.type = .spotlight
            event.ref = id

        case .click(let id):
            guard state.products[id] != nil else { return .failure(.notFound) }
            event.type = .click
            event.ref = id

        case .schedule, .unschedule, .remind, .fulfil:
            return decideSchedule(command, rank: rank, actor: actor, now: now, event: event)

        case .board(let draft):
            switch board(draft) {
            case .success(let board):
                event.board = board
                if board.kind == .slide { event.url = draft.url }
            case .failure(let error): return .failure(error)
            }
            if let error = Self.spend(&boardLimiter, actor, now) { return .failure(error) }
            event.type = .board
        }
        return .success(.append(event))
    }

    /// A board draft checked and quantized to ten-thousandths.
    private func board(_ draft: LiveBoardDraft) -> Result<LiveBoard, LiveError> {
        switch draft.kind {
        case .clear:
            return .success(LiveBoard(kind: .clear))
        case .slide:
            guard draft.url != nil else { return .failure(.invalid(field: "url", reason: "a slide needs its url")) }
            if let error = validURL(draft.url, field: "url") { return .failure(error) }
            let page = draft.page ?? 1
            guard (1...10_000).contains(page) else {
                return .failure(.invalid(field: "page", reason: "from 1 to 10000"))
            }
            return .success(LiveBoard(kind: .slide, page: page))
        case .stroke:
            let points = draft.points ?? []
            guard (1...settings.maxStrokePoints).contains(points.count) else {
                return .failure(.invalid(field: "points", reason: "1 to \(settings.maxStrokePoints) points"))
            }
            var quantized: [UInt16] = []
            quantized.reserveCapacity(points.count * 2)
            for point in points {
                guard point.count == 2, point.allSatisfy({ $0.isFinite && $0 >= 0 && $0 <= 1 }) else {
                    return .failure(.invalid(field: "points", reason: "each point is [x, y] with 0 <= x, y <= 1"))
                }
                quantized.append(UInt16((point[0] * 10_000).rounded()))
                quantized.append(UInt16((point[1] * 10_000).rounded()))
            }
            let color = draft.color ?? "#ff3b30"
            guard Self.isHexColor(color) else { return .failure(.invalid(field: "color", reason: "#rrggbb")) }
            let width = draft.width ?? 0.004
            guard width.isFinite, width >= 0.001, width <= 0.1 else {
                return .failure(.invalid(field: "width", reason: "from 0.001 to 0.1 of the picture's width"))
            }
            return .success(
                LiveBoard(kind: .stroke, points: quantized, color: color, width: Int((width * 10_000).rounded()))
            )
        }
    }

    private static func isHexColor(_ color: String) -> Bool {
        let bytes = Array(color.utf8)
        return bytes.count == 7 && bytes[0] == UInt8(ascii: "#")
            && bytes[1...].allSatisfy { (48...57).contains($0) || (97...102).contains($0) || (65...70).contains($0) }
    }

    private func validCurrency(_ currency: String) -> LiveError? {
        currency.utf8.count == 3 && currency.utf8.allSatisfy({ (65...90).contains($0) })
            ? nil : .invalid(field: "currency", reason: "three upper-case letters (ISO 4217)")
    }

    /// An optional link shown in pages: `http(s)://`, no spaces or control characters, bounded.
    private func validURL(_ url: String?, field: String) -> LiveError? {
        guard let url else { return nil }
        let lower = url.lowercased()
        guard lower.hasPrefix("https://") || lower.hasPrefix("http://"), url.utf8.count <= settings.maxURLLength,
            url.utf8.allSatisfy({ $0 > 32 && $0 != 127 }), url.utf8.count > 8
        else { return .invalid(field: field, reason: "an http(s) URL of at most \(settings.maxURLLength) bytes") }
        return nil
    }

    /// The trimmed text if it has 1…`maxTextLength` Characters.
    private func validText(_ text: String) -> Result<String, LiveError> {
        let trimmed = LiveText.trimmed(text)
        guard !trimmed.isEmpty, trimmed.count <= settings.maxTextLength else {
            return .failure(.invalid(field: "text", reason: "1 to \(settings.maxTextLength) characters after trimming"))
        }
        return .success(trimmed)
    }

    func validKey(_ clientID: String) -> LiveError? {
        IdentifierRule.idempotencyKey.accepts(clientID)
            ? nil : .invalid(field: "id", reason: "[A-Za-z0-9_-]{1,64}")
    }

    private static func spend(_ limiter: inout LiveRateLimiter, _ actor: LiveActor, _ now: Int64) -> LiveError? {
        switch limiter.acquire(actor.user, now: now) {
        case .allowed: nil
        case .limited(let millis): .rateLimited(retryAfterMillis: millis)
        }
    }
}
