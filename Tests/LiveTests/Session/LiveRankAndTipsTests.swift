import Testing

@testable import Live

@Suite("Moderation by rank, tips per currency")
struct LiveRankAndTipsTests {
    typealias F = LiveFixture
    static let owner2 = LiveActor(user: "own2", name: "Ove", role: .owner)
    static let admin2 = LiveActor(user: "adm2", name: "Ali", role: .admin)

    /// A live session (hosted by a member) in which the owner and both admins have written.
    static func seen() -> LiveSession {
        var session = F.live()
        for (i, actor) in [F.owner, F.admin, admin2, owner2].enumerated() {
            _ = session.commitSeq(.comment(text: "here", clientID: "c\(i)"), by: actor, now: F.t0)
        }
        return session
    }

    @Test func nobodyBelowTheOwnerActsOnTheOwner() {
        var session = Self.seen()
        for actor in [F.admin, F.host] {
            for action in LiveModerationAction.allCases {
                #expect(
                    session.commitError(.moderate(action: action, user: "own"), by: actor, now: F.t0) == .outranked,
                    "\(actor.user) \(action)"
                )
            }
        }
        #expect(
            session.commitError(.moderate(action: .kick, user: "own"), by: Self.owner2, now: F.t0) == .outranked,
            "owners do not act on owners"
        )
        #expect(session.state.kicked.isEmpty && session.state.muted.isEmpty)
    }

    @Test func adminsDoNotActOnAdminsButOwnersDo() {
        var session = Self.seen()
        #expect(session.commitError(.moderate(action: .mute, user: "adm2"), by: F.admin, now: F.t0) == .outranked)
        #expect(session.commitError(.moderate(action: .kick, user: "adm"), by: F.host, now: F.t0) == .outranked)
        #expect(session.commitSeq(.moderate(action: .mute, user: "adm2"), by: F.owner, now: F.t0) != nil)
        #expect(session.commitSeq(.moderate(action: .kick, user: "m1"), by: F.admin, now: F.t0) != nil)
        #expect(session.commitError(.comment(text: "x", clientID: "z"), by: F.member, now: F.t0) == .kicked)
    }

    @Test func aKickOfAnUnseenHigherRankDoesNotShutThemOut() {
        var session = F.live()
        // The owner has written nothing: the host's kick is logged...
        #expect(session.commitSeq(.moderate(action: .kick, user: "own"), by: F.host, now: F.t0) != nil)
        #expect(session.state.kicked == ["own"])
        // ...but holds only for callers ranking below the host.
        #expect(!session.state.isKicked("own", rank: .owner))
        #expect(session.state.isKicked("own", rank: .member))
        #expect(session.commitSeq(.comment(text: "still here", clientID: "o"), by: F.owner, now: F.t0) != nil)
        // A mute by an admin does not silence an owner either.
        #expect(session.commitSeq(.moderate(action: .mute, user: "own2"), by: F.admin, now: F.t0) != nil)
        #expect(session.commitSeq(.comment(text: "hi", clientID: "o2"), by: Self.owner2, now: F.t0) != nil)
    }

    @Test func ranksAndKicksSurviveReplayOfTheLog() throws {
        var session = Self.seen()
        _ = session.commitSeq(.moderate(action: .kick, user: "m1"), by: F.admin, now: F.t0)
        _ = session.commitSeq(.tip(amount: 500, currency: "CNY", clientID: "t1"), by: F.member2, now: F.t0)
        _ = session.commitSeq(.tip(amount: 300, currency: "USD", clientID: "t2"), by: F.owner, now: F.t0)
        // Rebuild from the encoded log, as a replica or a restart does.
        var replay = F.pending()
        let log = Self.events(of: session)
        #expect(UInt64(log.count) == session.state.lastSeq)
        for event in log {
            let decoded = try LiveEventCodec.decode(LiveEventCodec.encode(event))
            #expect(decoded == event)
            try replay.apply(decoded)
        }
        var live = session.state
        live.likes = 0
        #expect(replay.state == live)
        #expect(replay.state.roles["own"] == .owner && replay.state.roles["adm"] == .admin)
        #expect(replay.state.tipsByCurrency == ["CNY": 500, "USD": 300])
        #expect(replay.state.tipsTotal == 500 && replay.state.tipsCurrency == "CNY")
    }

    /// Re-decides the same commands to get the events (the state does not keep them).
    static func events(of session: LiveSession) -> [LiveEvent] {
        var copy = F.pending()
        var out: [LiveEvent] = []
        let script: [(LiveCommand, LiveActor)] =
            [(.start(title: "Launch", record: true), F.host)]
            + [F.owner, F.admin, admin2, owner2].enumerated().map { i, a in
                (.comment(text: "here", clientID: "c\(i)"), a)
            }
            + [
                (.moderate(action: .kick, user: "m1"), F.admin),
                (.tip(amount: 500, currency: "CNY", clientID: "t1"), F.member2),
                (.tip(amount: 300, currency: "USD", clientID: "t2"), F.owner),
            ]
        for (command, actor) in script {
            if case .success(.append(let event)) = copy.decide(command, by: actor, now: F.t0) {
                try! copy.apply(event)
                out.append(event)
            }
        }
        return out
    }
}
