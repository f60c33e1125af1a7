import Foundation
import Testing

@testable import Live

/// Webhooks as pure values: which events cause which webhooks, the outbox derived from the log
/// and advanced by replicated cursors, the cursor record's layout, the body and the backoff.
@Suite("Webhook outbox")
struct WebhookOutboxTests {
    static let t0: Int64 = 1_795_600_800_000

    static func event(_ seq: UInt64, _ type: LiveEventType, record: Bool? = nil, ref: String? = nil) -> LiveEvent {
        LiveEvent(seq: seq, type: type, user: "u1", name: "Ann", at: t0 + Int64(seq), record: record, ref: ref)
    }

    // MARK: - WebhookKind

    @Test func eachEventTypeCausesItsWebhooksInOrder() {
        for type in LiveEventType.allCases {
            let expected: [WebhookKind] =
                switch type {
                case .started: [.liveStarted]
                case .ended: [.liveEnded]
                case .tip: [.tip]
                case .redpacket: [.redpacketCreated]
                case .scheduled: [.liveScheduled]
                case .unscheduled: [.liveUnscheduled]
                case .reminded: [.liveReminder]
                default: []
                }
            #expect(WebhookKind.caused(by: Self.event(1, type)) == expected, "\(type)")
        }
        #expect(WebhookKind.caused(by: Self.event(1, .ended, record: true)) == [.liveEnded, .replayReady])
        #expect(WebhookKind.caused(by: Self.event(1, .ended, record: false)) == [.liveEnded])
        #expect(WebhookKind.caused(by: Self.event(1, .started, ref: "g2/s9")) == [], "a share pointer sends none")
        #expect(WebhookKind.caused(by: Self.event(1, .fulfilled, ref: "s1")) == [])
        #expect(
            WebhookKind.allCases.map(\.rawValue) == [
                "live.scheduled", "live.unscheduled", "live.reminder", "live.started", "live.ended",
                "replay.ready", "redpacket.created", "tip",
            ]
        )
    }

    @Test func openingAGroupLogIsNotALiveStarting() {
        // A group log is opened by the system user with a plain `started`: no live started.
        let opened = LiveEvent(seq: 1, type: .started, user: GroupLog.systemUser, at: Self.t0, title: "", record: false)
        #expect(WebhookKind.caused(by: opened) == [])
    }

    // MARK: - WebhookOutbox

    /// A recorded live's events: started (recorded), comment, tip, red packet, ended (5 webhooks:
    /// indexes 0...4; the end makes the replay ready because the start said it is recorded).
    static let log: [LiveEvent] = [
        event(1, .started, record: true), event(2, .comment), event(3, .tip), event(4, .redpacket),
        event(5, .ended),
    ]

    static func outbox(_ destinations: [UInt64] = [7, 9]) -> WebhookOutbox {
        var outbox = WebhookOutbox(destinations: destinations)
        for event in log { outbox.committed(event) }
        return outbox
    }

    @Test func theEndOfAnUnrecordedLiveMakesNoReplay() {
        var outbox = WebhookOutbox(destinations: [7])
        outbox.committed(Self.event(1, .started, record: false))
        #expect(outbox.committed(Self.event(2, .ended)) == 1)
        #expect(!outbox.recorded && outbox.entries.map(\.kind) == [.liveStarted, .liveEnded])
    }

    @Test func entriesAreDerivedFromCommittedEventsInOrder() {
        var outbox = WebhookOutbox(destinations: [9, 7, 9])
        #expect(outbox.destinations == [7, 9])
        let counts = Self.log.map { outbox.committed($0) }
        #expect(counts == [1, 0, 1, 1, 2])
        #expect(outbox.derived == 5)
        #expect(
            outbox.entries == [
                WebhookOutbox.Entry(index: 0, kind: .liveStarted, eventSeq: 1),
                WebhookOutbox.Entry(index: 1, kind: .tip, eventSeq: 3),
                WebhookOutbox.Entry(index: 2, kind: .redpacketCreated, eventSeq: 4),
                WebhookOutbox.Entry(index: 3, kind: .liveEnded, eventSeq: 5),
                WebhookOutbox.Entry(index: 4, kind: .replayReady, eventSeq: 5),
            ]
        )
        #expect(outbox == Self.outbox([7, 9]), "every replica derives the same outbox")
    }

    @Test func withoutDestinationsNothingIsDerived() {
        var outbox = Self.outbox([])
        #expect(outbox.derived == 0 && outbox.entries.isEmpty && !outbox.pending)
        #expect(outbox.committed(Self.event(6, .tip)) == 0)
        #expect(outbox.next(for: 7) == nil && outbox.backlog(for: 7) == 0)
    }

    @Test func cursorsOnlyMoveForward() {
        var outbox = Self.outbox()
        outbox.acknowledged(destination: 7, next: 3)
        outbox.acknowledged(destination: 7, next: 1)
        outbox.acknowledged(destination: 7, next: 3)
        #expect(outbox.cursors[7] == 3)
        #expect(outbox.next(for: 7)?.index == 3)
        outbox.acknowledged(destination: 7, next: 4)
        #expect(outbox.cursors[7] == 4)
    }

    @Test func nextStartsAtTheCursorOrTheSendersOwnPosition() {
        var outbox = Self.outbox()
        #expect(outbox.next(for: 7)?.index == 0)
        #expect(outbox.next(for: 7, from: 2) == WebhookOutbox.Entry(index: 2, kind: .redpacketCreated, eventSeq: 4))
        outbox.acknowledged(destination: 7, next: 3)
        #expect(outbox.next(for: 7, from: 1)?.index == 3, "the cursor wins over an older position")
        #expect(outbox.next(for: 7, from: 4)?.kind == .replayReady)
        #expect(outbox.next(for: 7, from: 5) == nil)
        #expect(outbox.next(for: 9)?.index == 0, "one destination's cursor does not move another's")
        outbox.acknowledged(destination: 7, next: 5)
        #expect(outbox.next(for: 7) == nil)
        outbox.committed(Self.event(6, .tip))
        #expect(outbox.next(for: 7) == WebhookOutbox.Entry(index: 5, kind: .tip, eventSeq: 6))
    }

    @Test func backlogAndPendingCountWhatIsOwed() {
        var outbox = Self.outbox()
        #expect(outbox.backlog(for: 7) == 5 && outbox.backlog(for: 9) == 5 && outbox.pending)
        outbox.acknowledged(destination: 7, next: 5)
        #expect(outbox.backlog(for: 7) == 0 && outbox.pending)
        outbox.acknowledged(destination: 9, next: 4)
        #expect(outbox.backlog(for: 9) == 1 && outbox.pending)
        outbox.acknowledged(destination: 9, next: 5)
        #expect(!outbox.pending)
        outbox.acknowledged(destination: 9, next: 99)
        #expect(outbox.backlog(for: 9) == 0, "a cursor past what was derived owes nothing")
        outbox.committed(Self.event(6, .tip))
        #expect(outbox.pending && outbox.backlog(for: 7) == 1)
    }

    @Test func compactionKeepsWhatAnyDestinationStillOwes() {
        var outbox = Self.outbox()
        outbox.acknowledged(destination: 7, next: 5)
        #expect(outbox.entries.map(\.index) == [0, 1, 2, 3, 4], "9 still owes all of them")
        outbox.acknowledged(destination: 9, next: 2)
        #expect(outbox.entries.map(\.index) == [2, 3, 4])
        #expect(outbox.next(for: 9)?.index == 2)
        // A destination this node does not send to neither holds nor frees entries.
        outbox.acknowledged(destination: 1, next: 0)
        outbox.acknowledged(destination: 3, next: 1)
        #expect(outbox.entries.map(\.index) == [2, 3, 4] && outbox.cursors[3] == 1)
        outbox.acknowledged(destination: 9, next: 5)
        #expect(outbox.entries.isEmpty && outbox.derived == 5)
        outbox.committed(Self.event(6, .tip))
        #expect(outbox.entries.map(\.index) == [5])
    }

    @Test func randomRunsKeepTheInvariants() {
        var rng = LiveTestRNG(seed: 16)
        let types = LiveEventType.allCases
        for _ in 0..<200 {
            let destinations: [UInt64] = [1, 2, 3]
            var outbox = WebhookOutbox(destinations: destinations)
            var seq: UInt64 = 0
            for _ in 0..<60 {
                if Bool.random(using: &rng) {
                    seq += 1
                    var event = Self.event(seq, types.randomElement(using: &rng)!)
                    event.record = Bool.random(using: &rng)
                    outbox.committed(event)
                } else {
                    let destination = UInt64.random(in: 1...4, using: &rng)
                    outbox.acknowledged(
                        destination: destination,
                        next: UInt64.random(in: 0...(outbox.derived + 1), using: &rng)
                    )
                }
                let floor = destinations.map { outbox.cursors[$0, default: 0] }.min()!
                #expect(outbox.entries.map(\.index) == Array(min(floor, outbox.derived)..<outbox.derived))
                for destination in destinations {
                    let from = UInt64.random(in: 0...(outbox.derived + 1), using: &rng)
                    let start = max(from, outbox.cursors[destination, default: 0])
                    #expect(outbox.next(for: destination, from: from)?.index == (start < outbox.derived ? start : nil))
                }
                #expect(outbox.pending == destinations.contains { outbox.backlog(for: $0) > 0 })
            }
        }
    }

    @Test func destinationKeysAreFNV1aOfTheURL() {
        #expect(WebhookDestination.key("") == 0xcbf2_9ce4_8422_2325)
        #expect(WebhookDestination.key("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(WebhookDestination.key("https://a.example/h") == WebhookDestination.key("https://a.example/h"))
        #expect(WebhookDestination.key("https://a.example/h") != WebhookDestination.key("https://b.example/h"))
    }

    // MARK: - WebhookCursorRecord, LogPayload

    @Test func cursorRecordsHaveTheirLayoutAndRoundTrip() throws {
        #expect(
            WebhookCursorRecord.encode(destination: 0x0102_0304_0506_0708, next: 9)
                == [0x03, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 9]
        )
        var rng = LiveTestRNG(seed: 3)
        for (destination, next) in [(0, 0), (UInt64.max, UInt64.max)]
            + (0..<200).map({ _ in
                (UInt64.random(in: 0...UInt64.max, using: &rng), UInt64.random(in: 0...UInt64.max, using: &rng))
            })
        {
            let record = WebhookCursorRecord.encode(destination: destination, next: next)
            #expect(record.count == 17 && WebhookCursorRecord.isRecord(record))
            let decoded = try #require(WebhookCursorRecord.decode(record))
            #expect(decoded.destination == destination && decoded.next == next)
        }
    }

    @Test func malformedCursorRecordsAreRefused() {
        let good = WebhookCursorRecord.encode(destination: 7, next: 3)
        var wrongTag = good
        wrongTag[0] = LiveLikesRecord.tag
        let malformed: [[UInt8]] = [
            [], [0x03], Array(good.dropLast()), good + [0], wrongTag, LiveLikesRecord.encode(5),
            LiveEventCodec.encode(Self.event(1, .tip)), Array(#"{"seq":1}"#.utf8),
        ]
        for payload in malformed { #expect(WebhookCursorRecord.decode(payload) == nil, "\(payload)") }
        #expect(!WebhookCursorRecord.isRecord(LiveLikesRecord.encode(5)))
        #expect(!WebhookCursorRecord.isRecord(LiveEventCodec.encode(Self.event(1, .tip))))
    }

    @Test func logPayloadsTellEventsFromRecords() throws {
        let event = Self.event(1, .scheduled, ref: "s1")
        #expect(LogPayload.isEvent(LiveEventCodec.encode(event)))
        #expect(LogPayload.isEvent(Array(try JSONEncoder().encode(event))))
        #expect(!LogPayload.isEvent(LiveLikesRecord.encode(5)))
        #expect(!LogPayload.isEvent(WebhookCursorRecord.encode(destination: 1, next: 2)))
    }

    // MARK: - WebhookBody

    static func parse(_ json: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }

    @Test func theBodyHasSixKeysInAFixedOrderAndTheEventAsData() throws {
        var tip = Self.event(3, .tip)
        tip.amount = 500
        tip.currency = "CNY"
        tip.clientID = "t1"
        tip.text = "quote \" and \n newline 群播"
        let entry = WebhookOutbox.Entry(index: 1, kind: .tip, eventSeq: 3)
        let body = WebhookBody.render(entry, event: tip, group: "g1", session: "s1")
        let at = LiveRFC3339.format(millis: tip.at)
        #expect(
            body == #"{"id":"s1-3","type":"tip","group":"g1","session":"s1","at":"\#(at)","data":"# + tip.apiJSON()
                + "}"
        )
        let parsed = try Self.parse(body)
        #expect(Set(parsed.keys) == ["id", "type", "group", "session", "at", "data"])
        #expect(parsed["id"] as? String == "s1-3" && parsed["type"] as? String == "tip")
        #expect(parsed["group"] as? String == "g1" && parsed["session"] as? String == "s1")
        #expect(parsed["at"] as? String == at)
        let data = try #require(parsed["data"] as? [String: Any])
        #expect(NSDictionary(dictionary: data).isEqual(to: try Self.parse(tip.apiJSON())))
    }

    @Test func aGroupLogsBodyNamesItsGroupAndNoSession() throws {
        let reminded = LiveEvent(
            seq: 4,
            type: .reminded,
            user: GroupLog.systemUser,
            at: Self.t0,
            text: "lead",
            title: "Friday",
            ref: "s1",
            expiresAt: Self.t0 + 600_000
        )
        let entry = WebhookOutbox.Entry(index: 2, kind: .liveReminder, eventSeq: 4)
        let body = WebhookBody.render(entry, event: reminded, group: GroupLog.logGroup(of: "g1"), session: "log1")
        #expect(body.hasPrefix(#"{"id":"log1-4","type":"live.reminder","group":"g1","session":null,"at":"#))
        #expect(!body.contains("~"))
        let parsed = try Self.parse(body)
        #expect(parsed["group"] as? String == "g1" && parsed["session"] is NSNull)
        let data = try #require(parsed["data"] as? [String: Any])
        #expect(NSDictionary(dictionary: data).isEqual(to: try Self.parse(reminded.apiJSON())))
        #expect(data["reminder"] as? String == "lead" && data["schedule"] as? String == "s1")
    }

    @Test func replayReadyHasItsOwnIDForTheSameEvent() throws {
        let ended = Self.event(5, .ended, record: true)
        let entries = WebhookKind.caused(by: ended).enumerated().map {
            WebhookOutbox.Entry(index: UInt64($0.offset), kind: $0.element, eventSeq: 5)
        }
        #expect(entries.map { WebhookBody.id($0, session: "s1") } == ["s1-5", "s1-5-replay"])
        let bodies = entries.map { WebhookBody.render($0, event: ended, group: "g1", session: "s1") }
        #expect(try Self.parse(bodies[1])["type"] as? String == "replay.ready")
        #expect(try Self.parse(bodies[1])["id"] as? String == "s1-5-replay")
    }

    @Test func theBodyIsByteIdenticalForTheSameEvent() throws {
        var event = Self.event(2, .scheduled, ref: "s1")
        event.title = "Tea"
        event.expiresAt = Self.t0 + 86_400_000
        let entry = WebhookOutbox.Entry(index: 0, kind: .liveScheduled, eventSeq: 2)
        let first = WebhookBody.render(entry, event: event, group: "~g1", session: "log1")
        // As another replica has it: decoded from the log.
        let replica = try LiveEventCodec.decode(LiveEventCodec.encode(event))
        #expect(
            Array(WebhookBody.render(entry, event: replica, group: "~g1", session: "log1").utf8) == Array(first.utf8)
        )
        #expect(WebhookBody.render(entry, event: event, group: "~g1", session: "log1") == first)
    }

    // MARK: - WebhookBackoff

    @Test func backoffNeverExceedsTheCap() {
        let backoff = WebhookBackoff()
        for attempt in 0...200 {
            for random in [0, 0.25, 0.5, 0.999_999_9, 1, 2, -1, .infinity] {
                let delay = backoff.delayMillis(afterFailures: attempt, random: random)
                #expect(delay >= 1 && delay <= backoff.capMillis, "attempt \(attempt), random \(random): \(delay)")
            }
        }
        #expect(WebhookBackoff().delayMillis(afterFailures: Int.max, random: 0.999_999) < 30_000)
        let small = WebhookBackoff(baseMillis: 100, capMillis: 1_000)
        #expect(small.delayMillis(afterFailures: 50, random: 0.999_999) <= 1_000)
    }

    @Test func backoffGrowsWithAttempts() {
        let backoff = WebhookBackoff()
        let delays = (1...12).map { backoff.delayMillis(afterFailures: $0, random: 0.5) }
        #expect(delays == [250, 500, 1_000, 2_000, 4_000, 8_000, 15_000, 15_000, 15_000, 15_000, 15_000, 15_000])
        #expect(zip(delays, delays.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(backoff.delayMillis(afterFailures: 0, random: 0.5) == 250)
        #expect(backoff.delayMillis(afterFailures: -3, random: 0.5) == 250)
    }

    @Test func backoffOfRandomZeroIsStillAtLeastOneMillisecond() {
        for attempt in 0...40 {
            #expect(WebhookBackoff().delayMillis(afterFailures: attempt, random: 0) == 1)
            #expect(WebhookBackoff(baseMillis: 0, capMillis: 0).delayMillis(afterFailures: attempt, random: 0.9) == 1)
        }
    }
}
