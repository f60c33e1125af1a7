/// The webhooks the cluster sends (API.md, Webhooks): the `type` of a delivery.
public enum WebhookKind: String, Sendable, CaseIterable, Codable {
    case liveScheduled = "live.scheduled"
    /// A schedule was cancelled (an addition to the contract's list: a host app that pushed a
    /// "starts at" notice needs to take it back).
    case liveUnscheduled = "live.unscheduled"
    case liveReminder = "live.reminder"
    case liveStarted = "live.started"
    case liveEnded = "live.ended"
    case replayReady = "replay.ready"
    case redpacketCreated = "redpacket.created"
    case tip

    /// The webhooks a committed event causes, in the order they are sent. A pure function of
    /// the event, so every replica derives the same outbox from the same log.
    ///
    /// `recorded`: whether the log's live is recorded (its `started` event says; the `ended`
    /// event does not carry it), so its end also makes the replay ready.
    ///
    /// A share pointer (a `started` naming `sharedFrom`) causes none: the live it stands for
    /// sends its own. Nor does a group log's opening (a `started` by `GroupLog.systemUser`): no
    /// live started.
    public static func caused(by event: LiveEvent, recorded: Bool? = nil) -> [WebhookKind] {
        switch event.type {
        case .started: event.ref == nil && event.user != GroupLog.systemUser ? [.liveStarted] : []
        case .ended: (recorded ?? event.record ?? false) ? [.liveEnded, .replayReady] : [.liveEnded]
        case .tip: [.tip]
        case .redpacket: [.redpacketCreated]
        case .scheduled: [.liveScheduled]
        case .unscheduled: [.liveUnscheduled]
        case .reminded: [.liveReminder]
        default: []
        }
    }
}
