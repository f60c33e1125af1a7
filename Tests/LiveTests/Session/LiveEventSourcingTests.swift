import Foundation
import Testing

@testable import Live

@Suite("Event sourcing")
struct LiveEventSourcingTests {
    typealias F = LiveFixture

    static func fresh() -> LiveSessionState { LiveSessionState(id: "s1", group: "g1", epoch: 1) }

    @Test func applyRefusesGapsAndRepeatsAndLeavesStateUnchanged() throws {
        var state = Self.fresh()
        let started = LiveEvent(seq: 1, type: .started, user: "h", at: 10, title: "t", record: false)
        #expect(throws: LiveError.outOfOrder(expected: 1, got: 2)) {
            try state.apply(LiveEvent(seq: 2, type: .started, user: "h", at: 10))
        }
        try state.apply(started)
        let snapshot = state
        #expect(throws: LiveError.outOfOrder(expected: 2, got: 1)) { try state.apply(started) }
        #expect(throws: LiveError.outOfOrder(expected: 2, got: 3)) {
            try state.apply(LiveEvent(seq: 3, type: .comment, user: "u", at: 11, text: "x"))
        }
        #expect(throws: LiveError.outOfOrder(expected: 2, got: 0)) {
            try state.apply(LiveEvent(seq: 0, type: .comment, user: "u", at: 11, text: "x"))
        }
        #expect(state == snapshot)
    }

    @Test func applyRefusesEventsThatDoNotFit() throws {
        var state = Self.fresh()
        #expect(throws: LiveError.invalidEvent(seq: 1, reason: "session is not live")) {
            try state.apply(LiveEvent(seq: 1, type: .comment, user: "u", at: 0, text: "x"))
        }
        try state.apply(LiveEvent(seq: 1, type: .started, user: "h", at: 0))
        let live = state
        let bad: [LiveEvent] = [
            LiveEvent(seq: 2, type: .started, user: "h", at: 0),
            LiveEvent(seq: 2, type: .comment, user: "u", at: 0),
            LiveEvent(seq: 2, type: .tip, user: "u", at: 0, amount: 0, currency: "USD"),
            LiveEvent(seq: 2, type: .tip, user: "u", at: 0, amount: 5),
            LiveEvent(seq: 2, type: .highlight, user: "h", at: 0, targetSeq: 1),
            LiveEvent(seq: 2, type: .pin, user: "h", at: 0),
            LiveEvent(seq: 2, type: .kick, user: "h", at: 0),
        ]
        for event in bad {
            #expect(throws: LiveError.self, "\(event.type)") { try state.apply(event) }
            #expect(state == live)
        }
        try state.apply(LiveEvent(seq: 2, type: .ended, user: "h", at: 5))
        #expect(throws: LiveError.invalidEvent(seq: 3, reason: "session is not live")) {
            try state.apply(LiveEvent(seq: 3, type: .unpin, user: "h", at: 6))
        }
    }

    @Test func snapshotsRoundTrip() throws {
        var session = F.live()
        _ = session.commitSeq(.question(text: "q", clientID: "q"), by: F.member, now: F.t0)
        _ = session.commitSeq(.highlight(questionSeq: 2), by: F.host, now: F.t0)
        _ = session.commitSeq(.tip(amount: 5, currency: "EUR", clientID: "t"), by: F.member2, now: F.t0)
        _ = session.commitSeq(.moderate(action: .mute, user: "z"), by: F.host, now: F.t0)
        _ = session.commitSeq(.moderate(action: .kick, user: "y"), by: F.host, now: F.t0)
        _ = session.commitSeq(.pin(text: "p"), by: F.host, now: F.t0)
        _ = session.commit(.like(count: 4), by: F.member, now: F.t0)
        let data = try JSONEncoder().encode(session.state)
        let decoded = try JSONDecoder().decode(LiveSessionState.self, from: data)
        #expect(decoded == session.state)
        #expect(decoded.likes == 4)
    }

    /// A random stream of commands by random actors, some invalid, some appended events lost
    /// before becoming durable: replaying the applied events into a fresh state (and into a
    /// snapshot taken halfway) gives the same state as the live one, likes and viewers aside.
    @Test func replayEqualsLiveStateOver200Seeds() throws {
        let actors = [
            F.host, F.member, F.member2, LiveActor(user: "m3", role: .member), F.admin, F.owner, F.stranger,
            F.guest,
        ]
        let texts = ["hi", "  hello  ", "", "spam here", String(repeating: "x", count: 501), "问题?"]
        var typesSeen = Set<LiveEventType>()
        var duplicates = 0
        var refusals = Set<String>()
        for seed in UInt64(1)...200 {
            var rng = LiveTestRNG(seed: seed)
            var session = F.pending(filter: LiveKeywordFilter(words: ["spam"]))
            var log: [LiveEvent] = []
            var now = F.t0
            var halfway: LiveSessionState?
            for step in 0..<150 {
                now += Int64.random(in: -50...400, using: &rng)  // clocks may step back
                var actor = actors.randomElement(using: &rng)!
                // Some write through a group the live was shared into.
                if Int.random(in: 0..<5, using: &rng) == 0 { actor.group = "g2" }
                let key = "k\(Int.random(in: 0..<12, using: &rng))"
                let text = texts.randomElement(using: &rng)!
                let someone = actors.randomElement(using: &rng)!.user
                let question = UInt64.random(in: 0...max(1, session.state.lastSeq), using: &rng)
                let command: LiveCommand =
                    switch Int.random(in: 0..<124, using: &rng) {
                    case 0..<3: .start(title: text, record: Bool.random(using: &rng))
                    case 3..<33: .comment(text: text, clientID: key)
                    case 33..<45: .question(text: text, clientID: key)
                    case 45..<55:
                        .tip(amount: Int64.random(in: -1...2_000, using: &rng), currency: "CNY", clientID: key)
                    case 55..<70: .like(count: Int.random(in: 0...101, using: &rng))
                    case 70..<76: .highlight(questionSeq: question)
                    case 76..<80: .pin(text: text)
                    case 80..<83: .unpin
                    case 83..<95:
                        .moderate(action: LiveModerationAction.allCases.randomElement(using: &rng)!, user: someone)
                    case 95..<97: .end
                    case 100..<104:
                        .redPacket(
                            total: Int64.random(in: -1...3_000, using: &rng),
                            currency: "CNY",
                            shares: Int.random(in: 0...4, using: &rng),
                            clientID: key
                        )
                    case 104..<110:
                        .grab(redPacket: session.state.redPackets.keys.sorted().randomElement(using: &rng) ?? key)
                    case 110..<111: .expireRedPacket(key)
                    case 111..<114:
                        .product(
                            LiveProductDraft(
                                id: "p\(Int.random(in: 0..<3, using: &rng))",
                                title: text,
                                price: Int64.random(in: -1...5_000, using: &rng),
                                currency: "CNY",
                                url: Bool.random(using: &rng) ? "https://shop.example/x" : "javascript:x"
                            )
                        )
                    case 114..<115: .spotlight(product: "p\(Int.random(in: 0..<4, using: &rng))")
                    case 115..<117: .click(product: "p\(Int.random(in: 0..<4, using: &rng))")
                    case 117..<120:
                        .board(
                            LiveBoardDraft(
                                kind: LiveBoard.Kind.allCases.randomElement(using: &rng)!,
                                url: "https://cdn.example/deck.pdf",
                                page: Int.random(in: 0...3, using: &rng),
                                points: [[Double.random(in: -0.1...1.1, using: &rng), 0.5]]
                            )
                        )
                    case 120..<122: .share(group: ["g1", "g2", "g3", "bad id"].randomElement(using: &rng)!)
                    case 122..<124: .unshare(group: ["g2", "g3"].randomElement(using: &rng)!)
                    default: .start(title: "late", record: false)
                    }
                let decision = session.decide(
                    command,
                    by: actor,
                    now: now,
                    mediaMillis: now - F.t0,
                    entropy: UInt64.random(in: 0...UInt64.max, using: &rng)
                )
                switch decision {
                case .success(.duplicate): duplicates += 1
                case .failure(let error): refusals.insert(error.code)
                default: break
                }
                if case .success(.append(let event)) = decision {
                    #expect(event.seq == session.state.lastSeq + 1)
                    if Int.random(in: 0..<20, using: &rng) == 0 { continue }  // never became durable
                    try session.apply(event)
                    log.append(event)
                }
                if step == 75 { halfway = session.state }
            }

            var rebuilt = Self.fresh()
            for event in log { try rebuilt.apply(event) }
            var live = session.state
            live.likes = 0
            #expect(rebuilt == live, "seed \(seed)")

            if var resumed = halfway {
                for event in log where event.seq > resumed.lastSeq { try resumed.apply(event) }
                resumed.likes = session.state.likes
                #expect(resumed == session.state, "seed \(seed) from snapshot")
            }

            #expect(log.map(\.seq) == Array(1...UInt64(max(log.count, 1))).prefix(log.count).map { $0 })
            #expect(zip(log, log.dropFirst()).allSatisfy { $0.at <= $1.at }, "seed \(seed): at goes back")
            let keyed = log.filter { $0.clientID != nil && $0.type != .product }
            #expect(Set(keyed.map { LiveIdempotencyKey(user: $0.user, clientID: $0.clientID!) }).count == keyed.count)
            #expect(rebuilt.tipsTotal == log.filter { $0.type == .tip }.compactMap(\.amount).reduce(0, +))
            // Red packets: what grabs and expiries gave back never exceeds what was sent.
            for (id, packet) in rebuilt.redPackets {
                let given = log.filter { $0.ref == id && $0.type != .spotlight && $0.type != .click }
                    .compactMap(\.amount).reduce(0, +)
                #expect(given <= packet.total, "seed \(seed) packet \(id)")
                if packet.expired || packet.sharesLeft == 0 {
                    #expect(given == packet.total, "seed \(seed) packet \(id)")
                }
            }
            typesSeen.formUnion(log.map(\.type))
        }
        // The stream really exercises every event type of a live and most refusals (the group
        // log's types are `LiveScheduleTests`' subject: a live refuses their commands).
        #expect(
            typesSeen == Set(LiveEventType.allCases).subtracting([.scheduled, .unscheduled, .reminded, .fulfilled])
        )
        #expect(duplicates > 0)
        #expect(
            refusals.isSuperset(of: [
                "not_a_member", "forbidden", "muted", "kicked", "bad_request", "filtered", "not_live", "not_found",
                "conflict", "empty",
            ])
        )
    }
}
