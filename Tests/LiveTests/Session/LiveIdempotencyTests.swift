import Testing

@testable import Live

@Suite("Idempotent writes")
struct LiveIdempotencyTests {
    typealias F = LiveFixture

    @Test(arguments: [
        LiveCommand.comment(text: "hi", clientID: "k1"),
        .question(text: "why?", clientID: "k1"),
        .tip(amount: 300, currency: "CNY", clientID: "k1"),
    ])
    func retryReturnsTheFirstSeqAndAppliesOnce(command: LiveCommand) throws {
        var session = F.live()
        let firstSeq = session.commitSeq(command, by: F.member, now: F.t0)
        let first = try #require(firstSeq)
        let before = session.state
        for _ in 0..<3 {
            #expect(try session.commit(command, by: F.member, now: F.t0 + 1).get() == .duplicate(seq: first))
        }
        #expect(session.state == before)
        #expect(session.state.idempotency[LiveIdempotencyKey(user: "m1", clientID: "k1")]?.seq == first)
        if case .tip = command { #expect(session.state.tipsTotal == 300) }
    }

    @Test func sameKeyFromAnotherUserIsAnotherWrite() {
        var session = F.live()
        let a = session.commitSeq(.tip(amount: 100, currency: "CNY", clientID: "k"), by: F.member, now: F.t0)
        let b = session.commitSeq(.tip(amount: 100, currency: "CNY", clientID: "k"), by: F.member2, now: F.t0)
        #expect(a == 2)
        #expect(b == 3)
        #expect(session.state.tipsTotal == 200)
    }

    @Test func retriesAreAnsweredEvenWhenNowLimitedMutedKickedOrEnded() throws {
        var session = F.live()
        let seqSeq = session.commitSeq(.comment(text: "first", clientID: "k"), by: F.member, now: F.t0)
        let seq = try #require(seqSeq)
        for i in 0..<4 { _ = session.commitSeq(.comment(text: "c", clientID: "c\(i)"), by: F.member, now: F.t0) }
        #expect(session.commitError(.comment(text: "new", clientID: "n"), by: F.member, now: F.t0) != nil)
        #expect(
            try session.commit(.comment(text: "first", clientID: "k"), by: F.member, now: F.t0).get()
                == .duplicate(seq: seq)
        )

        _ = session.commitSeq(.moderate(action: .mute, user: "m1"), by: F.host, now: F.t0)
        #expect(
            try session.commit(.comment(text: "first", clientID: "k"), by: F.member, now: F.t0).get()
                == .duplicate(seq: seq)
        )
        _ = session.commitSeq(.moderate(action: .kick, user: "m1"), by: F.host, now: F.t0)
        #expect(
            try session.commit(.comment(text: "first", clientID: "k"), by: F.member, now: F.t0).get()
                == .duplicate(seq: seq)
        )
        _ = session.commitSeq(.end, by: F.host, now: F.t0)
        #expect(
            try session.commit(.comment(text: "first", clientID: "k"), by: F.member, now: F.t0).get()
                == .duplicate(seq: seq)
        )
        // Membership is still checked first: a token without the group learns nothing.
        let former = LiveActor(user: "m1", role: nil)
        #expect(session.commitError(.comment(text: "first", clientID: "k"), by: former, now: F.t0) == .notAMember)
    }

    @Test func retryWithDifferentPayloadStillGetsTheFirstResult() throws {
        var session = F.live()
        let seqSeq = session.commitSeq(.comment(text: "first", clientID: "k"), by: F.member, now: F.t0)
        let seq = try #require(seqSeq)
        #expect(
            try session.commit(.comment(text: "edited", clientID: "k"), by: F.member, now: F.t0).get()
                == .duplicate(seq: seq)
        )
    }

    @Test func keyReusedForAnotherKindOfWriteIsAConflict() {
        var session = F.live()
        _ = session.commitSeq(.comment(text: "hi", clientID: "k"), by: F.member, now: F.t0)
        #expect(
            session.commitError(.tip(amount: 1, currency: "USD", clientID: "k"), by: F.member, now: F.t0) == .conflict
        )
        #expect(session.commitError(.question(text: "q", clientID: "k"), by: F.member, now: F.t0) == .conflict)
    }

    @Test func undurableWriteIsDecidedAgain() throws {
        // The primary decided but the event never became durable: the retry is a fresh write.
        var session = F.live()
        guard
            case .success(.append(let lost)) = session.decide(
                .comment(text: "hi", clientID: "k"),
                by: F.member,
                now: F.t0
            )
        else {
            Issue.record("expected append")
            return
        }
        guard
            case .success(.append(let again)) = session.decide(
                .comment(text: "hi", clientID: "k"),
                by: F.member,
                now: F.t0
            )
        else {
            Issue.record("expected append")
            return
        }
        #expect(again.seq == lost.seq)
        try session.apply(again)
        #expect(
            try session.commit(.comment(text: "hi", clientID: "k"), by: F.member, now: F.t0).get()
                == .duplicate(seq: again.seq)
        )
    }
}
