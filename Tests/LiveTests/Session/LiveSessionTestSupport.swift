import Testing

@testable import Live

/// Actors and helpers shared by the session tests.
enum LiveFixture {
    static let host = LiveActor(user: "host", name: "Hana", role: .member)
    static let member = LiveActor(user: "m1", name: "Ann", role: .member)
    static let member2 = LiveActor(user: "m2", name: "Bo", role: .member)
    static let admin = LiveActor(user: "adm", name: "Ada", role: .admin)
    static let owner = LiveActor(user: "own", name: "Oz", role: .owner)
    static let stranger = LiveActor(user: "x", name: "Xi", role: nil)
    static let guest = LiveActor(user: "gst", name: "Gil", role: .guest)

    static let t0: Int64 = 1_795_600_800_000

    /// A fresh pending session.
    static func pending(
        settings: LiveSessionSettings = LiveSessionSettings(),
        filter: LiveKeywordFilter = LiveKeywordFilter()
    ) -> LiveSession {
        LiveSession(state: LiveSessionState(id: "s1", group: "g1", epoch: 1), settings: settings, filter: filter)
    }

    /// A session started by `host` (seq 1 applied).
    static func live(
        settings: LiveSessionSettings = LiveSessionSettings(),
        filter: LiveKeywordFilter = LiveKeywordFilter()
    ) -> LiveSession {
        var session = pending(settings: settings, filter: filter)
        session.commit(.start(title: "Launch", record: true), by: host, now: t0)
        return session
    }
}

extension LiveSession {
    /// Decides and, for `.append`, applies at once (as the primary does once durable).
    @discardableResult
    mutating func commit(_ command: LiveCommand, by actor: LiveActor, now: Int64) -> Result<LiveDecision, LiveError> {
        let result = decide(command, by: actor, now: now)
        if case .success(.append(let event)) = result {
            try! apply(event)
        }
        return result
    }

    /// The seq of an appended event, or nil.
    mutating func commitSeq(_ command: LiveCommand, by actor: LiveActor, now: Int64) -> UInt64? {
        if case .success(.append(let event)) = commit(command, by: actor, now: now) { return event.seq }
        return nil
    }

    /// The error of a refused command, or nil.
    mutating func commitError(_ command: LiveCommand, by actor: LiveActor, now: Int64) -> LiveError? {
        if case .failure(let error) = commit(command, by: actor, now: now) { return error }
        return nil
    }
}

extension LiveFixture {
    /// The event of an `.append` decision, nil for anything else.
    static func decided(_ result: Result<LiveDecision, LiveError>) -> LiveEvent? {
        if case .success(.append(let event)) = result { return event }
        return nil
    }

    /// Commits `command` and expects a refusal with `error`, the state unchanged.
    static func expectRefused(
        _ session: inout LiveSession,
        _ command: LiveCommand,
        by actor: LiveActor,
        _ error: LiveError,
        now: Int64 = t0 + 1,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let before = session.state
        #expect(session.commitError(command, by: actor, now: now) == error, sourceLocation: sourceLocation)
        #expect(session.state == before, sourceLocation: sourceLocation)
    }
}
