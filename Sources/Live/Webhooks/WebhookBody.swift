/// The body of a webhook delivery (API.md): `{"id", "type", "group", "session", "at", "data"}`,
/// compact JSON with a fixed key order, a pure function of the causing event, so every retry
/// and every primary sends byte-identical bodies for one `id`.
public enum WebhookBody {
    /// `id`: `<log's session id>-<event seq>`, with `-replay` for `replay.ready` (the second
    /// webhook of an `ended` event).
    public static func id(_ entry: WebhookOutbox.Entry, session: String) -> String {
        entry.kind == .replayReady ? "\(session)-\(entry.eventSeq)-replay" : "\(session)-\(entry.eventSeq)"
    }

    /// The body for `entry` of the log `session` of `group` (a group log's name is mapped back to
    /// its group, and its webhooks name no session); `event` is the entry's causing event.
    public static func render(_ entry: WebhookOutbox.Entry, event: LiveEvent, group: String, session: String) -> String
    {
        let owner = GroupLog.owner(of: group)
        let fields: [(String, LiveJSONValue)] = [
            ("id", .string(id(entry, session: session))),
            ("type", .string(entry.kind.rawValue)),
            ("group", .string(owner ?? group)),
            ("session", owner == nil ? .string(session) : .null),
            ("at", .string(LiveRFC3339.format(millis: event.at))),
        ]
        let head = LiveJSON.render(fields)
        return head.dropLast() + #","data":"# + event.apiJSON() + "}"
    }
}

/// When a failed delivery is tried again: exponential backoff with full jitter (AWS's
/// "Exponential Backoff And Jitter"), so a receiver that comes back is not hit by every
/// sender at once. `random` in [0, 1) is an input: the core stays a function of its inputs.
public struct WebhookBackoff: Sendable, Equatable {
    /// The first retry's ceiling. Default 500 ms.
    public var baseMillis: Int64 = 500
    /// The ceiling no retry waits past (`--webhook-max-backoff`). Default 30 s.
    public var capMillis: Int64 = 30_000

    public init(baseMillis: Int64 = 500, capMillis: Int64 = 30_000) {
        self.baseMillis = baseMillis
        self.capMillis = capMillis
    }

    /// The wait before attempt `attempt + 1` (`attempt` ≥ 1 failures so far).
    public func delayMillis(afterFailures attempt: Int, random: Double) -> Int64 {
        let exponent = attempt <= 1 ? 0 : min(attempt - 1, 30)
        let ceiling = min(capMillis, baseMillis << Int64(exponent))
        let fraction = random.isFinite ? min(max(random, 0), 0.999_999) : 0.5
        return max(1, Int64(Double(ceiling) * fraction))
    }
}
