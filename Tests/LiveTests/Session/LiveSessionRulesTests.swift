import Testing

@testable import Live

@Suite("Session rules")
struct LiveSessionRulesTests {
    typealias F = LiveFixture

    @Test func startProducesTheFirstEventAndSetsInfo() throws {
        var session = F.pending()
        let decision = session.decide(.start(title: "  Launch  ", record: true), by: F.member, now: F.t0)
        guard case .success(.append(let event)) = decision else {
            Issue.record("expected append, got \(decision)")
            return
        }
        #expect(
            event
                == LiveEvent(
                    seq: 1,
                    type: .started,
                    user: "m1",
                    name: "Ann",
                    at: F.t0,
                    title: "Launch",
                    record: true,
                    role: .member
                )
        )
        #expect(session.state.phase == .pending, "decide does not apply")
        try session.apply(event)
        #expect(session.state.phase == .live)
        #expect(
            session.state.info
                == SessionInfo(
                    id: "s1",
                    group: "g1",
                    host: "m1",
                    title: "Launch",
                    record: true,
                    epoch: 1,
                    startedAt: F.t0
                )
        )
    }

    @Test func onlyMembersMayStartAndOnlyOnce() {
        var session = F.pending()
        #expect(session.commitError(.start(title: "t", record: false), by: F.stranger, now: F.t0) == .notAMember)
        #expect(session.commitError(.comment(text: "hi", clientID: "c1"), by: F.member, now: F.t0) == .notLive)
        #expect(session.commitError(.end, by: F.owner, now: F.t0) == .notLive)
        #expect(session.commitSeq(.start(title: "", record: false), by: F.member, now: F.t0) == 1)
        #expect(session.commitError(.start(title: "again", record: false), by: F.owner, now: F.t0) == .conflict)
        let long = String(repeating: "t", count: 201)
        var other = F.pending()
        #expect(
            other.commitError(.start(title: long, record: false), by: F.member, now: F.t0)
                == .invalid(field: "title", reason: "at most 200 characters")
        )
    }

    /// Every actor kind × every command, each on a fresh session holding a question (seq 2) and a pin.
    @Test(arguments: [F.member, F.admin, F.owner, F.host, F.stranger])
    func roleMatrix(actor: LiveActor) {
        let commands: [(LiveCommand, privileged: Bool)] = [
            (.comment(text: "hi", clientID: "c1"), false),
            (.question(text: "why?", clientID: "q1"), false),
            (.tip(amount: 100, currency: "CNY", clientID: "t1"), false),
            (.like(count: 3), false),
            (.highlight(questionSeq: 2), true),
            (.pin(text: "buy"), true),
            (.unpin, true),
            (.moderate(action: .mute, user: "m2"), true),
            (.moderate(action: .unmute, user: "m2"), true),
            (.moderate(action: .kick, user: "m2"), true),
            (.end, true),
            (.start(title: "x", record: false), false),
        ]
        for (command, privileged) in commands {
            var session = F.live()
            _ = session.commitSeq(.question(text: "q?", clientID: "setup-q"), by: F.member2, now: F.t0)
            _ = session.commitSeq(.pin(text: "notice"), by: F.host, now: F.t0)
            let result = session.commit(command, by: actor, now: F.t0 + 1)
            let expected: LiveError? =
                if actor.role == nil {
                    .notAMember
                } else if case .start = command {
                    .conflict
                } else if privileged && actor.role == .member && actor.user != F.host.user {
                    .forbidden
                } else {
                    nil
                }
            switch (result, expected) {
            case (.failure(let error), .some(let want)):
                #expect(error == want, "\(actor.user) \(command)")
            case (.success, nil):
                break
            default:
                Issue.record("\(actor.user) \(command): got \(result), expected \(String(describing: expected))")
            }
        }
    }

    @Test func commentsAndQuestionsAreTrimmedAndNamed() {
        var session = F.live()
        guard
            case .success(.append(let event)) = session.decide(
                .comment(text: "\n  hi \t", clientID: "c1"),
                by: F.member,
                now: F.t0 + 5
            )
        else {
            Issue.record("expected append")
            return
        }
        #expect(event.text == "hi")
        #expect(event.name == "Ann")
        #expect(event.seq == 2)
        #expect(event.clientID == "c1")
        #expect(event.at == F.t0 + 5)
    }

    @Test func textLengthCountsCharactersAfterTrimming() {
        var session = F.live()
        let invalid = LiveError.invalid(field: "text", reason: "1 to 500 characters after trimming")
        #expect(session.commitError(.comment(text: "", clientID: "a"), by: F.member, now: F.t0) == invalid)
        #expect(session.commitError(.comment(text: " \n\t ", clientID: "a"), by: F.member, now: F.t0) == invalid)
        #expect(
            session.commitError(
                .question(text: String(repeating: "x", count: 501), clientID: "a"),
                by: F.member,
                now: F.t0
            )
                == invalid
        )
        #expect(session.commitError(.pin(text: "   "), by: F.host, now: F.t0) == invalid)
        // 500 skin-toned thumbs: 500 Characters, 4000 UTF-8 bytes.
        let thumbs = String(repeating: "👍🏽", count: 500)
        #expect(session.commitSeq(.comment(text: "  " + thumbs + "  ", clientID: "b"), by: F.member, now: F.t0) != nil)
        #expect(
            session.commitSeq(
                .comment(text: String(repeating: "é", count: 500), clientID: "c"),
                by: F.member2,
                now: F.t0
            ) != nil
        )
    }

    @Test func idempotencyKeysMustFollowTheRule() {
        var session = F.live()
        let invalid = LiveError.invalid(field: "id", reason: "[A-Za-z0-9_-]{1,64}")
        for bad in ["", "a.b", "a b", String(repeating: "k", count: 65), "ключ"] {
            #expect(session.commitError(.comment(text: "hi", clientID: bad), by: F.member, now: F.t0) == invalid)
            #expect(
                session.commitError(.tip(amount: 1, currency: "USD", clientID: bad), by: F.member, now: F.t0) == invalid
            )
        }
        #expect(
            session.commitSeq(
                .comment(text: "hi", clientID: String(repeating: "k", count: 64)),
                by: F.member,
                now: F.t0
            ) != nil
        )
    }

    @Test func tipsValidateAmountAndCurrencyAndSum() {
        var session = F.live()
        let amount = LiveError.invalid(field: "amount", reason: "cents from 1 to 1000000")
        let currency = LiveError.invalid(field: "currency", reason: "three upper-case letters (ISO 4217)")
        #expect(session.commitError(.tip(amount: 0, currency: "CNY", clientID: "t"), by: F.member, now: F.t0) == amount)
        #expect(
            session.commitError(.tip(amount: -5, currency: "CNY", clientID: "t"), by: F.member, now: F.t0) == amount
        )
        #expect(
            session.commitError(.tip(amount: 1_000_001, currency: "CNY", clientID: "t"), by: F.member, now: F.t0)
                == amount
        )
        for bad in ["cny", "CN", "CNYY", "ÇNY", "C1Y", ""] {
            #expect(
                session.commitError(.tip(amount: 5, currency: bad, clientID: "t"), by: F.member, now: F.t0) == currency
            )
        }
        #expect(
            session.commitSeq(.tip(amount: 1_000_000, currency: "CNY", clientID: "t1"), by: F.member, now: F.t0) != nil
        )
        #expect(session.commitSeq(.tip(amount: 250, currency: "USD", clientID: "t2"), by: F.member2, now: F.t0) != nil)
        // Totals never mix currencies: tipsTotal counts the first one tipped.
        #expect(session.state.tipsTotal == 1_000_000)
        #expect(session.state.tipsCurrency == "CNY")
        #expect(session.state.tipsByCurrency == ["CNY": 1_000_000, "USD": 250])
    }

    @Test func likesAreCountedNotLogged() throws {
        var session = F.live()
        #expect(try session.commit(.like(count: 3), by: F.member, now: F.t0).get() == .likes(total: 3))
        #expect(try session.commit(.like(count: 100), by: F.member2, now: F.t0).get() == .likes(total: 103))
        #expect(session.state.likes == 103)
        #expect(session.state.lastSeq == 1, "likes append nothing")
        let invalid = LiveError.invalid(field: "count", reason: "from 1 to 100")
        #expect(session.commitError(.like(count: 0), by: F.member, now: F.t0) == invalid)
        #expect(session.commitError(.like(count: 101), by: F.member, now: F.t0) == invalid)
        #expect(session.commitError(.like(count: -1), by: F.member, now: F.t0) == invalid)
    }

    @Test func highlightNeedsAQuestionAndIsIdempotent() throws {
        var session = F.live()
        let comment = session.commitSeq(.comment(text: "hi", clientID: "c"), by: F.member, now: F.t0)!
        let question = session.commitSeq(.question(text: "why?", clientID: "q"), by: F.member, now: F.t0)!
        #expect(session.commitError(.highlight(questionSeq: comment), by: F.host, now: F.t0) == .notFound)
        #expect(session.commitError(.highlight(questionSeq: 999), by: F.host, now: F.t0) == .notFound)
        #expect(session.commitError(.highlight(questionSeq: 1), by: F.host, now: F.t0) == .notFound)
        #expect(session.state.questions == [question: false])
        let highlight = session.commitSeq(.highlight(questionSeq: question), by: F.admin, now: F.t0)!
        #expect(session.state.questions == [question: true])
        #expect(
            try session.commit(.highlight(questionSeq: question), by: F.owner, now: F.t0).get()
                == .duplicate(seq: highlight)
        )
        #expect(session.state.lastSeq == highlight)
    }

    @Test func pinAndUnpin() {
        var session = F.live()
        #expect(session.commitError(.unpin, by: F.host, now: F.t0) == .notFound)
        _ = session.commitSeq(.pin(text: " card://42 "), by: F.host, now: F.t0)
        #expect(session.state.pinned == "card://42")
        _ = session.commitSeq(.pin(text: "other"), by: F.admin, now: F.t0)
        #expect(session.state.pinned == "other")
        #expect(session.commitSeq(.unpin, by: F.owner, now: F.t0) != nil)
        #expect(session.state.pinned == nil)
        #expect(session.commitError(.unpin, by: F.host, now: F.t0) == .notFound)
    }

    @Test func mutedUsersCannotWriteButMayStillModerate() {
        var session = F.live()
        _ = session.commitSeq(.moderate(action: .mute, user: "m1"), by: F.admin, now: F.t0)
        #expect(session.state.muted == ["m1"])
        #expect(session.commitError(.comment(text: "hi", clientID: "a"), by: F.member, now: F.t0) == .muted)
        #expect(session.commitError(.question(text: "hi", clientID: "b"), by: F.member, now: F.t0) == .muted)
        #expect(session.commitError(.tip(amount: 1, currency: "USD", clientID: "c"), by: F.member, now: F.t0) == .muted)
        #expect(session.commitError(.like(count: 1), by: F.member, now: F.t0) == .muted)
        #expect(session.commitSeq(.comment(text: "hi", clientID: "a"), by: F.member2, now: F.t0) != nil)
        _ = session.commitSeq(.moderate(action: .unmute, user: "m1"), by: F.host, now: F.t0)
        #expect(session.commitSeq(.comment(text: "hi", clientID: "a"), by: F.member, now: F.t0) != nil)

        _ = session.commitSeq(.moderate(action: .mute, user: "adm"), by: F.owner, now: F.t0)
        #expect(session.commitError(.comment(text: "hi", clientID: "z"), by: F.admin, now: F.t0) == .muted)
        #expect(session.commitSeq(.pin(text: "still moderating"), by: F.admin, now: F.t0) != nil)
    }

    @Test func kickedUsersAreRefusedEverything() {
        var session = F.live()
        _ = session.commitSeq(.moderate(action: .kick, user: "adm"), by: F.owner, now: F.t0)
        #expect(session.state.kicked == ["adm"])
        for command: LiveCommand in [
            .comment(text: "hi", clientID: "a"), .question(text: "q", clientID: "b"),
            .tip(amount: 1, currency: "USD", clientID: "c"), .like(count: 1), .pin(text: "p"), .end,
            .moderate(action: .unmute, user: "m1"),
        ] {
            #expect(session.commitError(command, by: F.admin, now: F.t0) == .kicked, "\(command)")
        }
        // Unmute does not undo a kick.
        _ = session.commitSeq(.moderate(action: .unmute, user: "adm"), by: F.owner, now: F.t0)
        #expect(session.commitError(.like(count: 1), by: F.admin, now: F.t0) == .kicked)
    }

    @Test func moderationTargets() {
        var session = F.live()
        #expect(session.commitError(.moderate(action: .kick, user: "host"), by: F.owner, now: F.t0) == .forbidden)
        #expect(session.commitError(.moderate(action: .mute, user: "host"), by: F.admin, now: F.t0) == .forbidden)
        #expect(
            session.commitError(.moderate(action: .mute, user: "adm"), by: F.admin, now: F.t0)
                == .invalid(field: "user", reason: "cannot moderate yourself")
        )
        #expect(
            session.commitError(.moderate(action: .mute, user: "a b"), by: F.admin, now: F.t0)
                == .invalid(field: "user", reason: "not a user id")
        )
        #expect(session.commitSeq(.moderate(action: .mute, user: "some.one"), by: F.host, now: F.t0) != nil)
    }

    @Test func keywordFilterAppliesToCommentsAndQuestionsOnly() {
        var session = F.live(filter: LiveKeywordFilter(words: ["spam"]))
        #expect(session.commitError(.comment(text: "buy SPAM", clientID: "a"), by: F.member, now: F.t0) == .filtered)
        #expect(session.commitError(.question(text: "Spammy?", clientID: "b"), by: F.member, now: F.t0) == .filtered)
        #expect(session.commitSeq(.comment(text: "fine", clientID: "c"), by: F.member, now: F.t0) != nil)
        #expect(session.commitSeq(.pin(text: "spam notice"), by: F.host, now: F.t0) != nil)
    }

    @Test func writesAfterEndAreNotLive() {
        var session = F.live()
        let end = session.decide(.end, by: F.host, now: F.t0 + 10)
        guard case .success(.append(let event)) = end else {
            Issue.record("expected append")
            return
        }
        #expect(event.type == .ended)
        try! session.apply(event)
        #expect(session.state.phase == .ended)
        #expect(session.state.info.endedAt == F.t0 + 10)
        for command: LiveCommand in [
            .comment(text: "hi", clientID: "a"), .tip(amount: 1, currency: "USD", clientID: "c"), .like(count: 1),
            .end, .pin(text: "p"), .unpin, .highlight(questionSeq: 1), .moderate(action: .kick, user: "m1"),
        ] {
            #expect(session.commitError(command, by: F.owner, now: F.t0 + 20) == .notLive, "\(command)")
        }
        #expect(session.commitError(.start(title: "", record: false), by: F.owner, now: F.t0) == .conflict)
        #expect(session.commitError(.comment(text: "hi", clientID: "a"), by: F.stranger, now: F.t0) == .notAMember)
    }

    @Test func writesAreRateLimitedPerUserWithOwnLikeBucket() {
        var session = F.live()
        let t = F.t0 + 1000
        for i in 0..<5 {
            #expect(session.commitSeq(.comment(text: "c\(i)", clientID: "c\(i)"), by: F.member, now: t) != nil)
        }
        #expect(
            session.commitError(.question(text: "q", clientID: "q"), by: F.member, now: t)
                == .rateLimited(retryAfterMillis: 500)
        )
        #expect(
            session.commitError(.tip(amount: 1, currency: "USD", clientID: "t"), by: F.member, now: t + 100)
                == .rateLimited(retryAfterMillis: 400)
        )
        // Another user, likes, and moderators are unaffected.
        #expect(session.commitSeq(.comment(text: "x", clientID: "x"), by: F.member2, now: t) != nil)
        #expect((try? session.commit(.like(count: 1), by: F.member, now: t).get()) == .likes(total: 1))
        for _ in 0..<20 { _ = session.commitSeq(.pin(text: "p"), by: F.host, now: t) }
        #expect(session.commitSeq(.pin(text: "p"), by: F.host, now: t) != nil)
        // Refused commands spend nothing: invalid text while empty, then one token at +500.
        #expect(session.commitError(.comment(text: "", clientID: "e"), by: F.member, now: t + 500) != nil)
        #expect(session.commitSeq(.comment(text: "later", clientID: "l"), by: F.member, now: t + 500) != nil)
        #expect(
            session.commitError(.comment(text: "more", clientID: "m"), by: F.member, now: t + 500)
                == .rateLimited(retryAfterMillis: 500)
        )
    }

    @Test func likeBucketIsSeparate() {
        var session = F.live()
        for _ in 0..<10 { #expect(session.commitError(.like(count: 1), by: F.member, now: F.t0) == nil) }
        #expect(session.commitError(.like(count: 1), by: F.member, now: F.t0) == .rateLimited(retryAfterMillis: 200))
        #expect(session.commitSeq(.comment(text: "still", clientID: "s"), by: F.member, now: F.t0) != nil)
        #expect(session.state.likes == 10)
    }

    @Test func eventTimesNeverGoBack() {
        var session = F.live()
        let first = session.commitSeq(.comment(text: "a", clientID: "a"), by: F.member, now: F.t0 + 500)!
        guard
            case .success(.append(let event)) = session.decide(
                .comment(text: "b", clientID: "b"),
                by: F.member,
                now: F.t0
            )
        else {
            Issue.record("expected append")
            return
        }
        #expect(event.seq == first + 1)
        #expect(event.at == F.t0 + 500)
    }

    @Test func viewersAreSetNotLogged() {
        var session = F.live()
        session.setViewers(12)
        #expect(session.state.viewers == 12)
        session.setViewers(-3)
        #expect(session.state.viewers == 0)
        #expect(session.state.lastSeq == 1)
    }

    @Test func errorCodesAndStatuses() {
        let table: [(LiveError, String, Int)] = [
            (.notAMember, "not_a_member", 403), (.forbidden, "forbidden", 403), (.muted, "muted", 403),
            (.kicked, "kicked", 403), (.invalid(field: "f", reason: "r"), "bad_request", 400),
            (.filtered, "filtered", 400), (.rateLimited(retryAfterMillis: 1), "rate_limited", 429),
            (.notLive, "not_live", 409), (.notFound, "not_found", 404), (.conflict, "conflict", 409),
            (.outOfOrder(expected: 2, got: 3), "conflict", 409), (.invalidEvent(seq: 1, reason: "r"), "conflict", 409),
        ]
        for (error, code, status) in table {
            #expect(error.code == code)
            #expect(error.httpStatus == status)
            #expect(!error.message.isEmpty)
        }
        #expect(LiveError.rateLimited(retryAfterMillis: 1).retryAfterSeconds == 1)
        #expect(LiveError.rateLimited(retryAfterMillis: 1000).retryAfterSeconds == 1)
        #expect(LiveError.rateLimited(retryAfterMillis: 1001).retryAfterSeconds == 2)
        #expect(LiveError.muted.retryAfterSeconds == nil)
        #expect(LiveError.invalid(field: "text", reason: "too long").message == "text: too long")
    }
}
