/// The group log's commands (scheduled lives and their reminders), split from `decide` so each
/// rule reads on its own.
extension LiveSession {
    /// Whether `command` belongs to the kind of log this session is: schedules only in a group
    /// log, and a group log takes nothing else but its start.
    static func fits(_ command: LiveCommand, groupLog: Bool) -> Bool {
        switch command {
        case .schedule, .unschedule, .remind, .fulfil: groupLog
        case .start: true
        default: !groupLog
        }
    }

    /// `event` completed for a schedule command (a group log that is live; the actor is allowed
    /// in general): `.append`, `.duplicate` or the refusal.
    func decideSchedule(
        _ command: LiveCommand,
        rank: LiveRank,
        actor: LiveActor,
        now: Int64,
        event: LiveEvent
    ) -> Result<LiveDecision, LiveError> {
        var event = event
        event.mediaMillis = nil
        event.group = nil
        switch command {
        case .schedule(let draft):
            if let error = validKey(draft.id) { return .failure(error) }
            let title = LiveText.trimmed(draft.title)
            guard !title.isEmpty, title.count <= settings.maxTitleLength else {
                return .failure(.invalid(field: "title", reason: "1 to \(settings.maxTitleLength) characters"))
            }
            if let existing = state.schedules[draft.id] {
                let same =
                    existing.title == title && existing.startsAt == draft.startsAt && existing.author == actor.user
                return same ? .success(.duplicate(seq: existing.seq)) : .failure(.conflict)
            }
            guard draft.startsAt > now, draft.startsAt <= now + settings.maxScheduleAheadMillis else {
                return .failure(
                    .invalid(
                        field: "startsAt",
                        reason: "in the future, at most \(settings.maxScheduleAheadMillis / 86_400_000) days ahead"
                    )
                )
            }
            // Schedules a day past their start no longer count (nobody fulfilled or cancelled them).
            let current = state.schedules.values.filter { $0.startsAt > now - 86_400_000 }.count
            guard current < settings.maxSchedules else {
                return .failure(
                    .invalid(field: "id", reason: "at most \(settings.maxSchedules) scheduled lives a group")
                )
            }
            event.type = .scheduled
            event.ref = draft.id
            event.title = title
            event.expiresAt = draft.startsAt

        case .unschedule(let id):
            guard let schedule = state.schedules[id] else { return .failure(.notFound) }
            guard schedule.author == actor.user || rank >= .admin else {
                return .failure(.forbidden)
            }
            event.type = .unscheduled
            event.ref = id

        case .remind(let id, let kind):
            guard let schedule = state.schedules[id] else { return .failure(.notFound) }
            guard !schedule.reminded.contains(kind), !schedule.reminded.contains(.start) else {
                return .failure(.gone("reminded"))
            }
            event.type = .reminded
            event.ref = id
            event.text = kind.rawValue
            event.title = schedule.title
            event.expiresAt = schedule.startsAt

        case .fulfil(let id, let session):
            guard state.schedules[id] != nil else { return .failure(.notFound) }
            event.type = .fulfilled
            event.ref = id
            event.text = session

        default:
            return .failure(.notFound)
        }
        return .success(.append(event))
    }
}
