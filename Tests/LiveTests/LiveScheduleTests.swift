import Foundation
import Testing

@testable import Live

/// The group log (issue 16) as the primary decides and every replica applies it: schedules,
/// reminders once each, cancellation and fulfilment. One test per rule; each refusal leaves the
/// state unchanged.
@Suite("Group log schedules")
struct LiveScheduleTests {
    typealias F = LiveFixture

    static let system = LiveActor(user: GroupLog.systemUser, role: .member)
    static let day: Int64 = 86_400_000
    static let lead: Int64 = 600_000
    static let startsAt = F.t0 + 3_600_000

    /// A group log of `g1` (`~g1`), opened by the system user.
    static func groupLog(settings: LiveSessionSettings = LiveSessionSettings()) -> LiveSession {
        var session = LiveSession(
            state: LiveSessionState(id: "log1", group: GroupLog.logGroup(of: "g1"), epoch: 1),
            settings: settings
        )
        let result = session.commit(.start(title: "", record: false), by: system, now: F.t0)
        guard case .success(.append) = result else { fatalError("the group log did not open: \(result)") }
        return session
    }

    static func draft(
        _ id: String = "s1",
        title: String = "Friday launch",
        startsAt: Int64 = startsAt
    )
        -> LiveCommand
    {
        .schedule(LiveScheduleDraft(id: id, title: title, startsAt: startsAt))
    }

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
        now: Int64 = F.t0 + 1,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let before = session.state
        #expect(session.commitError(command, by: actor, now: now) == error, sourceLocation: sourceLocation)
        #expect(session.state == before, sourceLocation: sourceLocation)
    }

    /// Commits `command`, expecting a refusal as invalid `field`, the state unchanged.
    static func expectInvalid(
        _ session: inout LiveSession,
        _ command: LiveCommand,
        by actor: LiveActor = F.member,
        field: String,
        now: Int64 = F.t0 + 1,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let before = session.state
        guard case .invalid(let got, _)? = session.commitError(command, by: actor, now: now) else {
            Issue.record("\(command) was not refused as invalid", sourceLocation: sourceLocation)
            return
        }
        #expect(got == field, sourceLocation: sourceLocation)
        #expect(session.state == before, sourceLocation: sourceLocation)
    }

    /// `event` applied to a copy of `state`: the error, with the state unchanged.
    static func applyError(_ state: LiveSessionState, _ event: LiveEvent) -> LiveError? {
        var copy = state
        do {
            try copy.apply(event)
            return nil
        } catch {
            #expect(copy == state, "a refused event changed the state")
            return error
        }
    }

    static func isInvalidEvent(_ error: LiveError?) -> Bool {
        if case .invalidEvent? = error { return true }
        return false
    }

    // MARK: - GroupLog names

    @Test func logNamesAreReservedAndMapBackToTheirGroup() {
        #expect(GroupLog.logGroup(of: "g1") == "~g1")
        #expect(GroupLog.owner(of: "~g1") == "g1")
        #expect(GroupLog.owner(of: "g1") == nil)
        #expect(GroupLog.isLog("~g1") && !GroupLog.isLog("g1"))
        #expect(!IdentifierRule.group.accepts(GroupLog.logGroup(of: "g1")), "no client group is a log name")
        #expect(!IdentifierRule.user.accepts(GroupLog.systemUser), "no client user is the system user")
        #expect(LiveReminderKind.lead < .start && !(LiveReminderKind.start < .lead))
    }

    // MARK: - schedule

    @Test func aMemberSchedulesAndTheScheduleIsKept() throws {
        var session = Self.groupLog()
        let event = try session.appended(Self.draft(title: "  Friday launch \n"), by: F.member, now: F.t0 + 1)
        #expect(event.type == .scheduled && event.ref == "s1" && event.title == "Friday launch")
        #expect(event.expiresAt == Self.startsAt && event.user == F.member.user && event.seq == 2)
        let schedule = try #require(session.state.schedules["s1"])
        #expect(
            schedule
                == LiveSchedule(
                    id: "s1",
                    author: F.member.user,
                    title: "Friday launch",
                    startsAt: Self.startsAt,
                    seq: event.seq
                )
        )
        #expect(schedule.reminded.isEmpty)
    }

    @Test func scheduledEventsCarryNoMediaTimeNorWriterGroup() throws {
        var session = Self.groupLog()
        let actor = LiveActor(user: "m1", name: "Ann", role: .member, group: "g2")
        let event = try session.appendedByDeciding(Self.draft(), by: actor, now: F.t0 + 1, mediaMillis: 5_000)
        #expect(event.mediaMillis == nil && event.group == nil)
    }

    @Test func scheduleIDsMustBeKeys() {
        var session = Self.groupLog()
        for id in ["", String(repeating: "a", count: 65), "a b", "a/b", "é", "~x", "a.b"] {
            Self.expectInvalid(&session, Self.draft(id), field: "id")
        }
        for id in [String(repeating: "a", count: 64), "A-z_09"] {
            #expect(session.commitSeq(Self.draft(id), by: F.member, now: F.t0 + 1) != nil, "\(id) was refused")
        }
    }

    @Test func scheduleTitlesAreOneToMaxTitleLengthAfterTrimming() {
        var settings = LiveSessionSettings()
        settings.maxTitleLength = 10
        var session = Self.groupLog(settings: settings)
        for title in ["", "   ", " \n\t ", String(repeating: "x", count: 11)] {
            Self.expectInvalid(&session, Self.draft(title: title), field: "title")
        }
        #expect(
            session.commitSeq(Self.draft("a", title: String(repeating: "x", count: 10)), by: F.member, now: F.t0) != nil
        )
        #expect(session.commitSeq(Self.draft("b", title: "  x  "), by: F.member, now: F.t0) != nil)
        #expect(session.state.schedules["b"]?.title == "x")
    }

    @Test func startsAtIsInTheFutureAndAtMost366DaysAhead() {
        var session = Self.groupLog()
        let now = F.t0 + 1
        for startsAt in [now - 1, now, F.t0 - Self.day, now + 366 * Self.day + 1, Int64.max] {
            Self.expectInvalid(&session, Self.draft(startsAt: startsAt), field: "startsAt", now: now)
        }
        #expect(session.commitSeq(Self.draft("a", startsAt: now + 1), by: F.member, now: now) != nil)
        #expect(session.commitSeq(Self.draft("b", startsAt: now + 366 * Self.day), by: F.member, now: now) != nil)
        #expect(LiveSessionSettings().maxScheduleAheadMillis == 366 * Self.day)
    }

    @Test func atMostMaxSchedulesAreHeldAtOnce() {
        var settings = LiveSessionSettings()
        settings.maxSchedules = 3
        var session = Self.groupLog(settings: settings)
        for index in 0..<3 {
            #expect(session.commitSeq(Self.draft("s\(index)"), by: F.member, now: F.t0 + 1) != nil)
        }
        Self.expectInvalid(&session, Self.draft("s3"), field: "id")
        // Room comes back once one is cancelled.
        #expect(session.commitSeq(.unschedule("s0"), by: F.member, now: F.t0 + 1) != nil)
        #expect(session.commitSeq(Self.draft("s3"), by: F.member, now: F.t0 + 1) != nil)
    }

    @Test func aGuestCannotSchedule() {
        var session = Self.groupLog()
        Self.expectRefused(&session, Self.draft(), by: F.guest, .notForGuests)
        Self.expectRefused(&session, Self.draft(), by: F.stranger, .notAMember)
    }

    @Test func theSameScheduleAgainByItsAuthorAnswersTheFirst() throws {
        var session = Self.groupLog()
        let first = try session.appended(Self.draft(), by: F.member, now: F.t0 + 1).seq
        let before = session.state
        #expect(session.commit(Self.draft(), by: F.member, now: F.t0 + 2) == .success(.duplicate(seq: first)))
        // Trimmed the same, and even once its start has passed: the retry is answered.
        #expect(
            session.commit(Self.draft(title: " Friday launch "), by: F.member, now: Self.startsAt + 1)
                == .success(.duplicate(seq: first))
        )
        #expect(session.state == before)
    }

    @Test func theSameIDWithOtherFieldsOrAnotherAuthorConflicts() throws {
        var session = Self.groupLog()
        try session.appended(Self.draft(), by: F.member, now: F.t0 + 1).seq
        Self.expectRefused(&session, Self.draft(title: "Other"), by: F.member, .conflict)
        Self.expectRefused(&session, Self.draft(startsAt: Self.startsAt + 1), by: F.member, .conflict)
        Self.expectRefused(&session, Self.draft(), by: F.member2, .conflict)
        Self.expectRefused(&session, Self.draft(), by: F.owner, .conflict)
    }

    // MARK: - unschedule

    @Test func itsAuthorAnOwnerOrAnAdminUnschedules() throws {
        var session = Self.groupLog()
        for id in ["a", "b", "c", "d"] {
            try session.appended(Self.draft(id), by: F.member, now: F.t0 + 1).seq
        }
        for (id, actor) in [("a", F.member), ("b", F.owner), ("c", F.admin), ("d", Self.system)] {
            let event = try session.appended(.unschedule(id), by: actor, now: F.t0 + 2)
            #expect(event.type == .unscheduled && event.ref == id && event.user == actor.user)
            #expect(session.state.schedules[id] == nil)
        }
        #expect(session.state.schedules.isEmpty)
    }

    @Test func anotherMemberCannotUnschedule() throws {
        var session = Self.groupLog()
        try session.appended(Self.draft(), by: F.member, now: F.t0 + 1).seq
        Self.expectRefused(&session, .unschedule("s1"), by: F.member2, .forbidden)
        Self.expectRefused(&session, .unschedule("s1"), by: F.guest, .forbidden)
    }

    @Test func unschedulingAnUnknownOrCancelledScheduleIsNotFound() throws {
        var session = Self.groupLog()
        Self.expectRefused(&session, .unschedule("nope"), by: F.owner, .notFound)
        try session.appended(Self.draft(), by: F.member, now: F.t0 + 1).seq
        try session.appended(.unschedule("s1"), by: F.member, now: F.t0 + 1).seq
        Self.expectRefused(&session, .unschedule("s1"), by: F.member, .notFound)
    }

    @Test func aCancelledIDCanBeScheduledAgain() throws {
        var session = Self.groupLog()
        try session.appended(Self.draft(), by: F.member, now: F.t0 + 1).seq
        try session.appended(.unschedule("s1"), by: F.member, now: F.t0 + 1).seq
        let again = try session.appended(Self.draft(title: "Moved"), by: F.member2, now: F.t0 + 2).seq
        #expect(session.state.schedules["s1"]?.seq == again && session.state.schedules["s1"]?.author == "m2")
    }

    // MARK: - remind

    @Test func eachReminderKindFiresOnce() throws {
        var session = Self.groupLog()
        try session.appended(Self.draft(), by: F.member, now: F.t0 + 1).seq
        let lead = try session.appended(.remind(schedule: "s1", kind: .lead), by: Self.system, now: F.t0 + 2)
        #expect(lead.type == .reminded && lead.ref == "s1" && lead.text == "lead")
        #expect(lead.title == "Friday launch" && lead.expiresAt == Self.startsAt)
        #expect(session.state.schedules["s1"]?.reminded == [.lead])
        Self.expectRefused(&session, .remind(schedule: "s1", kind: .lead), by: Self.system, .gone("reminded"))

        let start = try session.appended(.remind(schedule: "s1", kind: .start), by: Self.system, now: Self.startsAt)
        #expect(start.text == "start")
        #expect(session.state.schedules["s1"]?.reminded == [.lead, .start])
        Self.expectRefused(&session, .remind(schedule: "s1", kind: .start), by: Self.system, .gone("reminded"))
    }

    @Test func noLeadReminderAfterTheStartOne() throws {
        var session = Self.groupLog()
        try session.appended(Self.draft(), by: F.member, now: F.t0 + 1).seq
        try session.appended(.remind(schedule: "s1", kind: .start), by: Self.system, now: Self.startsAt).seq
        Self.expectRefused(&session, .remind(schedule: "s1", kind: .lead), by: Self.system, .gone("reminded"))
    }

    @Test func onlyTheLogsTimerReminds() throws {
        var session = Self.groupLog()
        try session.appended(Self.draft(), by: F.member, now: F.t0 + 1).seq
        Self.expectRefused(&session, .remind(schedule: "s1", kind: .lead), by: F.member, .forbidden)
        Self.expectRefused(&session, .remind(schedule: "s1", kind: .lead), by: F.guest, .forbidden)
        Self.expectRefused(&session, .remind(schedule: "nope", kind: .lead), by: Self.system, .notFound)
    }

    // MARK: - fulfil

    @Test func fulfilmentRemovesTheSchedule() throws {
        var session = Self.groupLog()
        try session.appended(Self.draft(), by: F.member, now: F.t0 + 1).seq
        let event = try session.appended(.fulfil(schedule: "s1", session: "live-7"), by: F.member2, now: F.t0 + 2)
        #expect(event.type == .fulfilled && event.ref == "s1" && event.text == "live-7")
        #expect(session.state.schedules.isEmpty)
        Self.expectRefused(&session, .fulfil(schedule: "s1", session: "live-8"), by: F.member, .notFound)
        Self.expectRefused(&session, .remind(schedule: "s1", kind: .start), by: Self.system, .notFound)
        Self.expectRefused(&session, .unschedule("s1"), by: F.member, .notFound)
    }

    @Test func aGuestCannotFulfil() throws {
        var session = Self.groupLog()
        try session.appended(Self.draft(), by: F.member, now: F.t0 + 1).seq
        Self.expectRefused(&session, .fulfil(schedule: "s1", session: "live-7"), by: F.guest, .notForGuests)
    }

    // MARK: - which log takes what

    @Test func scheduleCommandsInALiveAreNotFound() {
        var session = F.live()
        for command: LiveCommand in [
            Self.draft(), .unschedule("s1"), .remind(schedule: "s1", kind: .lead),
            .fulfil(schedule: "s1", session: "s1"),
        ] {
            Self.expectRefused(&session, command, by: F.host, .notFound)
        }
    }

    @Test func liveCommandsInAGroupLogAreNotFound() {
        var session = Self.groupLog()
        let commands: [LiveCommand] = [
            .comment(text: "hi", clientID: "c"), .tip(amount: 5, currency: "CNY", clientID: "t"),
            .question(text: "q?", clientID: "q"), .like(count: 1), .pin(text: "x"), .unpin, .end,
            .redPacket(total: 100, currency: "CNY", shares: 2, clientID: "rp"),
            .product(LiveProductDraft(id: "p", title: "Tea", price: 5, currency: "CNY")),
            .moderate(action: .mute, user: "m2"), .share(group: "g2"), .highlight(questionSeq: 1),
        ]
        for command in commands {
            Self.expectRefused(&session, command, by: Self.system, .notFound)
            Self.expectRefused(&session, command, by: F.owner, .notFound)
        }
        #expect(session.state.likes == 0)
    }

    @Test func aGroupLogTakesNothingBeforeItOpens() {
        var session = LiveSession(state: LiveSessionState(id: "log1", group: "~g1", epoch: 1))
        Self.expectRefused(&session, Self.draft(), by: F.member, .notLive)
    }

    // MARK: - apply

    @Test func applyRefusesASecondScheduledWithTheSameID() throws {
        var session = Self.groupLog()
        let event = try session.appended(Self.draft(), by: F.member, now: F.t0 + 1)
        var again = event
        again.seq = session.state.nextSeq
        #expect(Self.isInvalidEvent(Self.applyError(session.state, again)))
    }

    @Test func applyRefusesAScheduledWithoutTitleOrStart() throws {
        let session = Self.groupLog()
        let base = LiveEvent(
            seq: session.state.nextSeq,
            type: .scheduled,
            user: "m1",
            at: F.t0,
            title: "t",
            ref: "s1",
            expiresAt: Self.startsAt
        )
        for strip in [\LiveEvent.title, \LiveEvent.ref] {
            var event = base
            event[keyPath: strip] = nil
            #expect(Self.isInvalidEvent(Self.applyError(session.state, event)))
        }
        var event = base
        event.expiresAt = nil
        #expect(Self.isInvalidEvent(Self.applyError(session.state, event)))
        #expect(Self.applyError(session.state, base) == nil)
    }

    @Test func applyRefusesAReminderFiredTwiceOrOfAnUnknownSchedule() throws {
        var session = Self.groupLog()
        try session.appended(Self.draft(), by: F.member, now: F.t0 + 1).seq
        let lead = try session.appended(.remind(schedule: "s1", kind: .lead), by: Self.system, now: F.t0 + 2)
        var twice = lead
        twice.seq = session.state.nextSeq
        #expect(Self.isInvalidEvent(Self.applyError(session.state, twice)))
        var unknown = twice
        unknown.ref = "nope"
        #expect(Self.isInvalidEvent(Self.applyError(session.state, unknown)))
        var badKind = twice
        badKind.text = "soon"
        #expect(Self.isInvalidEvent(Self.applyError(session.state, badKind)))
        var noKind = twice
        noKind.text = nil
        #expect(Self.isInvalidEvent(Self.applyError(session.state, noKind)))
    }

    @Test func applyRefusesCancellingOrFulfillingAnUnknownSchedule() {
        let session = Self.groupLog()
        for type in [LiveEventType.unscheduled, .fulfilled] {
            let event = LiveEvent(seq: session.state.nextSeq, type: type, user: "m1", at: F.t0, text: "x", ref: "s9")
            #expect(Self.isInvalidEvent(Self.applyError(session.state, event)))
        }
    }

    @Test func applyRefusesScheduleEventsOutsideAGroupLog() {
        let session = F.live()
        let events = [
            LiveEvent(
                seq: session.state.nextSeq,
                type: .scheduled,
                user: "m1",
                at: F.t0,
                title: "t",
                ref: "s1",
                expiresAt: Self.startsAt
            ),
            LiveEvent(seq: session.state.nextSeq, type: .unscheduled, user: "m1", at: F.t0, ref: "s1"),
            LiveEvent(seq: session.state.nextSeq, type: .reminded, user: "m1", at: F.t0, text: "lead", ref: "s1"),
            LiveEvent(seq: session.state.nextSeq, type: .fulfilled, user: "m1", at: F.t0, text: "x", ref: "s1"),
        ]
        for event in events {
            #expect(Self.isInvalidEvent(Self.applyError(session.state, event)), "\(event.type) was applied")
        }
    }

    @Test func aReplicaAndASnapshotRebuildTheSameSchedules() throws {
        var primary = Self.groupLog()
        var log: [LiveEvent] = []
        func run(_ command: LiveCommand, _ actor: LiveActor, _ now: Int64) throws {
            let event = try primary.appendedByDeciding(command, by: actor, now: now)
            try primary.apply(event)
            log.append(event)
        }
        try run(Self.draft("a"), F.member, F.t0 + 1)
        try run(Self.draft("b", startsAt: Self.startsAt + 1), F.member2, F.t0 + 2)
        try run(.remind(schedule: "a", kind: .lead), Self.system, Self.startsAt - Self.lead)
        try run(.unschedule("b"), F.owner, Self.startsAt - 1)

        var replica = Self.groupLog()
        for event in log { try replica.apply(event) }
        #expect(replica.state == primary.state)

        let snapshot = try JSONDecoder().decode(LiveSessionState.self, from: JSONEncoder().encode(primary.state))
        #expect(snapshot == primary.state)
        #expect(snapshot.schedules["a"]?.reminded == [.lead] && snapshot.schedules["b"] == nil)
    }

    // MARK: - dueReminders, nextReminderAt

    /// A group log holding one schedule `s1` starting at `startsAt`.
    static func withOneSchedule() -> LiveSession {
        var session = groupLog()
        _ = session.commitSeq(draft(), by: F.member, now: F.t0 + 1)
        return session
    }

    static func due(_ state: LiveSessionState, _ now: Int64) -> [String] {
        state.dueReminders(now: now, leadMillis: lead).map { "\($0.schedule):\($0.kind.rawValue)" }
    }

    @Test func nothingIsDueBeforeTheLeadWindow() {
        let session = Self.withOneSchedule()
        #expect(Self.due(session.state, Self.startsAt - Self.lead - 1).isEmpty)
        #expect(session.state.nextReminderAt(leadMillis: Self.lead) == Self.startsAt - Self.lead)
    }

    @Test func theLeadReminderIsDueInsideTheLeadWindow() throws {
        var session = Self.withOneSchedule()
        #expect(Self.due(session.state, Self.startsAt - Self.lead) == ["s1:lead"])
        #expect(Self.due(session.state, Self.startsAt - 1) == ["s1:lead"])
        try session.appended(.remind(schedule: "s1", kind: .lead), by: Self.system, now: Self.startsAt - Self.lead).seq
        #expect(Self.due(session.state, Self.startsAt - 1).isEmpty)
        #expect(session.state.nextReminderAt(leadMillis: Self.lead) == Self.startsAt)
    }

    @Test func theStartReminderIsDueAtStartsAt() throws {
        var session = Self.withOneSchedule()
        try session.appended(.remind(schedule: "s1", kind: .lead), by: Self.system, now: Self.startsAt - Self.lead).seq
        #expect(Self.due(session.state, Self.startsAt) == ["s1:start"])
        #expect(Self.due(session.state, Self.startsAt + Self.day) == ["s1:start"])
    }

    @Test func aPrimaryAwayPastTheStartFiresOnlyTheStartReminder() {
        let session = Self.withOneSchedule()
        #expect(Self.due(session.state, Self.startsAt) == ["s1:start"])
        #expect(Self.due(session.state, Self.startsAt + 1) == ["s1:start"])
    }

    @Test func nothingIsDueOnceTheStartReminderFired() throws {
        var session = Self.withOneSchedule()
        try session.appended(.remind(schedule: "s1", kind: .start), by: Self.system, now: Self.startsAt).seq
        #expect(Self.due(session.state, Self.startsAt + Self.day).isEmpty)
        #expect(session.state.nextReminderAt(leadMillis: Self.lead) == nil)
    }

    @Test func nothingIsDueAfterUnscheduleOrFulfilment() throws {
        for command: LiveCommand in [.unschedule("s1"), .fulfil(schedule: "s1", session: "live-7")] {
            var session = Self.withOneSchedule()
            try session.appended(command, by: F.member, now: F.t0 + 2).seq
            #expect(Self.due(session.state, Self.startsAt).isEmpty)
            #expect(Self.due(session.state, Self.startsAt - Self.lead).isEmpty)
            #expect(session.state.nextReminderAt(leadMillis: Self.lead) == nil)
        }
    }

    @Test func dueRemindersComeInStartOrderThenIDOrder() throws {
        var session = Self.groupLog()
        for (id, startsAt) in [("c", Self.startsAt), ("b", Self.startsAt + 60_000), ("a", Self.startsAt)] {
            try session.appended(Self.draft(id, startsAt: startsAt), by: F.member, now: F.t0 + 1).seq
        }
        #expect(Self.due(session.state, Self.startsAt) == ["a:start", "c:start", "b:lead"])
        #expect(session.state.nextReminderAt(leadMillis: Self.lead) == Self.startsAt - Self.lead)
        #expect(Self.groupLog().state.dueReminders(now: Self.startsAt, leadMillis: Self.lead).isEmpty)
        #expect(Self.groupLog().state.nextReminderAt(leadMillis: Self.lead) == nil)
    }

    @Test func firingEveryDueReminderAtEveryTickFiresEachKindOnce() throws {
        // The primary's timer as the shell runs it: at each tick, remind of what is due.
        var session = Self.groupLog()
        for (index, offset) in [Int64(0), 1, 300_000, 3_000_000].enumerated() {
            let id = "s\(index)"
            try session.appended(Self.draft(id, startsAt: Self.startsAt + offset), by: F.member, now: F.t0).seq
        }
        var fired: [String] = []
        var now = F.t0
        while now < Self.startsAt + 4_000_000 {
            for (id, kind) in session.state.dueReminders(now: now, leadMillis: Self.lead) {
                try session.appended(.remind(schedule: id, kind: kind), by: Self.system, now: now).seq
                fired.append("\(id):\(kind.rawValue)")
            }
            if let next = session.state.nextReminderAt(leadMillis: Self.lead) { #expect(next > now) }
            now += 30_000
        }
        #expect(fired.count == 8 && Set(fired).count == 8)
        #expect(session.state.nextReminderAt(leadMillis: Self.lead) == nil)
    }

    // MARK: - public shape and codec

    static func scheduleEvents() throws -> [LiveEvent] {
        var session = groupLog()
        var events: [LiveEvent] = []
        let commands: [(LiveCommand, LiveActor)] = [
            (draft("a", title: "Tea \"time\"\n"), F.member), (draft("b"), F.member),
            (.remind(schedule: "a", kind: .lead), system), (.remind(schedule: "a", kind: .start), system),
            (.unschedule("b"), F.member), (.fulfil(schedule: "a", session: "live-7"), F.member),
        ]
        for (command, actor) in commands {
            let event = try session.appended(command, by: actor, now: F.t0 + 1)
            events.append(event)
        }
        return events
    }

    @Test func scheduleEventsHaveTheirOwnPublicKeys() throws {
        let events = try Self.scheduleEvents()
        let keys = events.map { $0.apiJSONObject().map(\.0) }
        #expect(keys[0] == ["seq", "type", "user", "name", "schedule", "title", "startsAt", "at"])
        #expect(keys[2] == ["seq", "type", "user", "schedule", "reminder", "title", "startsAt", "at"])
        #expect(keys[3] == keys[2])
        #expect(keys[4] == ["seq", "type", "user", "name", "schedule", "at"])
        #expect(keys[5] == ["seq", "type", "user", "name", "schedule", "session", "at"])
        let start = LiveRFC3339.format(millis: Self.startsAt)
        #expect(events[0].apiJSONObject().first { $0.0 == "startsAt" }?.1 == .string(start))
        #expect(events[2].apiJSONObject().first { $0.0 == "reminder" }?.1 == .string("lead"))
        #expect(events[5].apiJSONObject().first { $0.0 == "session" }?.1 == .string("live-7"))
        for event in events {
            let parsed = try #require(
                JSONSerialization.jsonObject(with: Data(event.apiJSON().utf8)) as? [String: Any]
            )
            #expect(parsed["type"] as? String == event.type.rawValue)
            #expect(parsed["schedule"] as? String == event.ref)
            #expect(parsed["text"] == nil && parsed["expiresAt"] == nil && parsed["mediaTime"] == nil)
        }
    }

    @Test func scheduleEventsRoundTripTheBinaryCodecAndJSON() throws {
        for event in try Self.scheduleEvents() {
            let bytes = LiveEventCodec.encode(event)
            #expect(bytes.first == LiveEventCodec.version)
            #expect(try LiveEventCodec.decode(bytes) == event)
            #expect(try JSONDecoder().decode(LiveEvent.self, from: JSONEncoder().encode(event)) == event)
        }
        let codes = [LiveEventType.scheduled, .unscheduled, .reminded, .fulfilled].map { LiveEventCodec.typeCodes[$0] }
        #expect(codes == [21, 22, 23, 24])
    }
}

extension LiveSession {
    /// Commits `command`, expecting it appended; the event.
    @discardableResult
    mutating func appended(
        _ command: LiveCommand,
        by actor: LiveActor,
        now: Int64,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> LiveEvent {
        let result = commit(command, by: actor, now: now)
        guard case .success(.append(let event)) = result else {
            Issue.record("\(command) was not appended: \(result)", sourceLocation: sourceLocation)
            throw result.failureOrConflict
        }
        return event
    }

    /// Decides `command` with `mediaMillis`, expecting an event; not applied.
    mutating func appendedByDeciding(
        _ command: LiveCommand,
        by actor: LiveActor,
        now: Int64,
        mediaMillis: Int64? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> LiveEvent {
        let result = decide(command, by: actor, now: now, mediaMillis: mediaMillis)
        guard case .success(.append(let event)) = result else {
            Issue.record("\(command) was not decided: \(result)", sourceLocation: sourceLocation)
            throw result.failureOrConflict
        }
        return event
    }
}

extension Result where Success == LiveDecision, Failure == LiveError {
    /// The refusal, or `.conflict` for an answer that appended nothing.
    fileprivate var failureOrConflict: LiveError {
        if case .failure(let error) = self { return error }
        return .conflict
    }
}
