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
    public mutating func decide(
        _ command: LiveCommand,
        by actor: LiveActor,
        now: Int64
    ) -> Result<LiveDecision, LiveError> {
        guard let role = actor.role else { return .failure(.notAMember) }

        if let clientID = command.clientID, let type = command.keyedEventType,
            let record = state.idempotency[LiveIdempotencyKey(user: actor.user, clientID: clientID)]
        {
            return record.type == type ? .success(.duplicate(seq: record.seq)) : .failure(.conflict)
        }

        switch (state.phase, command) {
        case (.pending, .start): break
        case (_, .start): return .failure(.conflict)
        case (.pending, _), (.ended, _): return .failure(.notLive)
        case (.live, _): break
        }

        let rank = LiveRank(role: role, user: actor.user, host: state.info.host)
        if state.isKicked(actor.user, rank: rank) { return .failure(.kicked) }
        if command.isPrivileged, role == .member, actor.user != state.info.host { return .failure(.forbidden) }
        switch command {
        case .comment, .question, .tip, .like:
            if state.isMuted(actor.user, rank: rank) { return .failure(.muted) }
        default: break
        }

        var event = LiveEvent(
            seq: state.nextSeq,
            type: .started,
            user: actor.user,
            name: actor.name,
            at: max(now, state.lastAt),
            role: role
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
            guard currency.utf8.count == 3, currency.utf8.allSatisfy({ (65...90).contains($0) }) else {
                return .failure(.invalid(field: "currency", reason: "three upper-case letters (ISO 4217)"))
            }
            if let error = validKey(clientID) { return .failure(error) }
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
        }
        return .success(.append(event))
    }

    /// The trimmed text if it has 1…`maxTextLength` Characters.
    private func validText(_ text: String) -> Result<String, LiveError> {
        let trimmed = LiveText.trimmed(text)
        guard !trimmed.isEmpty, trimmed.count <= settings.maxTextLength else {
            return .failure(.invalid(field: "text", reason: "1 to \(settings.maxTextLength) characters after trimming"))
        }
        return .success(trimmed)
    }

    private func validKey(_ clientID: String) -> LiveError? {
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
