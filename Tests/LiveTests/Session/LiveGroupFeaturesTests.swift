import Foundation
import Testing

@testable import Live

/// The group-live features as the primary decides them: guests, red packets, product cards, the
/// board and `mediaTime`. One test per rule; each refusal leaves the state unchanged.
@Suite("Group-live features")
struct LiveGroupFeaturesTests {
    typealias F = LiveFixture

    @Test func guestsWatchLikeCommentAskAndClickButNeverStartTipOrTouchRedPackets() {
        var pending = F.pending()
        F.expectRefused(&pending, .start(title: "t", record: false), by: F.guest, .notForGuests)

        var session = F.live()
        #expect(session.commitSeq(.comment(text: "hi", clientID: "c"), by: F.guest, now: F.t0) != nil)
        #expect(session.commitSeq(.question(text: "q?", clientID: "q"), by: F.guest, now: F.t0) != nil)
        guard case .success(.likes) = session.commit(.like(count: 3), by: F.guest, now: F.t0) else {
            Issue.record("a guest's likes were refused")
            return
        }
        _ = session.commitSeq(
            .redPacket(total: 100, currency: "CNY", shares: 2, clientID: "rp"),
            by: F.member,
            now: F.t0
        )
        _ = session.commitSeq(
            .product(LiveProductDraft(id: "p", title: "Tea", price: 5, currency: "CNY")),
            by: F.host,
            now: F.t0
        )
        #expect(session.commitSeq(.click(product: "p"), by: F.guest, now: F.t0) != nil)

        F.expectRefused(&session, .tip(amount: 5, currency: "CNY", clientID: "t"), by: F.guest, .notForGuests)
        F.expectRefused(
            &session,
            .redPacket(total: 100, currency: "CNY", shares: 2, clientID: "g"),
            by: F.guest,
            .notForGuests
        )
        F.expectRefused(&session, .grab(redPacket: "rp"), by: F.guest, .notForGuests)
        F.expectRefused(&session, .pin(text: "x"), by: F.guest, .forbidden)
        #expect(LiveError.notForGuests.httpStatus == 403)
    }

    @Test func badRedPacketsAreRefusedWithTheFieldAndChangeNothing() {
        var session = F.live()
        let bad: [(LiveCommand, String)] = [
            (.redPacket(total: 100, currency: "CNY", shares: 0, clientID: "a"), "shares"),
            (.redPacket(total: 1_000, currency: "CNY", shares: 201, clientID: "a"), "shares"),
            (.redPacket(total: -5, currency: "CNY", shares: 1, clientID: "a"), "total"),
            (.redPacket(total: 4, currency: "CNY", shares: 5, clientID: "a"), "total"),
            (.redPacket(total: 1_000_001, currency: "CNY", shares: 5, clientID: "a"), "total"),
            (.redPacket(total: 100, currency: "cny", shares: 5, clientID: "a"), "currency"),
            (.redPacket(total: 100, currency: "CNY", shares: 5, clientID: "a b"), "id"),
        ]
        for (command, field) in bad {
            let before = session.state
            guard case .invalid(let got, _)? = session.commitError(command, by: F.member, now: F.t0) else {
                Issue.record("\(command) was not refused as invalid")
                continue
            }
            #expect(got == field)
            #expect(session.state == before)
        }
    }

    @Test func aSplitAddsUpEveryShareHasACentAndGrabsHandItOutOnce() throws {
        var session = F.live()
        let sent = try #require(
            F.decided(
                session.commit(
                    .redPacket(total: 1_000, currency: "CNY", shares: 7, clientID: "rp"),
                    by: F.member,
                    now: F.t0
                )
            )
        )
        let amounts = try #require(sent.amounts)
        #expect(amounts.count == 7 && amounts.allSatisfy { $0 >= 1 } && amounts.reduce(0, +) == 1_000)
        #expect(!sent.apiJSON().contains("amounts"), "the split is never shown ahead")

        var got: [Int64] = []
        for index in 0..<7 {
            let user = LiveActor(user: "u\(index)", role: .member)
            let grab = try #require(F.decided(session.commit(.grab(redPacket: "rp"), by: user, now: F.t0)))
            #expect(grab.amount == amounts[index] && grab.shares == 6 - index && grab.ref == "rp")
            got.append(grab.amount!)
            // Asking again answers the first grab, whatever came between.
            #expect(session.commit(.grab(redPacket: "rp"), by: user, now: F.t0) == .success(.duplicate(seq: grab.seq)))
        }
        #expect(got.reduce(0, +) == 1_000)
        F.expectRefused(&session, .grab(redPacket: "rp"), by: F.owner, .gone("empty"))
        F.expectRefused(&session, .grab(redPacket: "nope"), by: F.owner, .notFound)
        F.expectRefused(&session, .expireRedPacket("rp"), by: F.owner, .gone("empty"))
    }

    @Test func theSameSenderRetryingIsAnsweredAndAnotherSenderCannotReuseTheId() throws {
        var session = F.live()
        let sent = session.commitSeq(
            .redPacket(total: 10, currency: "CNY", shares: 2, clientID: "rp"),
            by: F.member,
            now: F.t0
        )
        let seq = try #require(sent)
        let retry = session.commit(
            .redPacket(total: 10, currency: "CNY", shares: 2, clientID: "rp"),
            by: F.member,
            now: F.t0
        )
        #expect(retry == .success(.duplicate(seq: seq)))
        F.expectRefused(
            &session,
            .redPacket(total: 10, currency: "CNY", shares: 2, clientID: "rp"),
            by: F.member2,
            .conflict
        )
    }

    @Test func expiryReturnsTheRemainderAndClosesThePacket() throws {
        var settings = LiveSessionSettings()
        settings.redPacketTTLMillis = 60_000
        var session = F.live(settings: settings)
        let sent = try #require(
            F.decided(
                session.commit(
                    .redPacket(total: 500, currency: "CNY", shares: 4, clientID: "rp"),
                    by: F.member,
                    now: F.t0
                )
            )
        )
        #expect(sent.expiresAt == sent.at + 60_000)
        // Past the TTL a grab is refused even before the expiry is logged.
        #expect(session.commitError(.grab(redPacket: "rp"), by: F.admin, now: F.t0 + 60_000) == .gone("expired"))
        let grab = try #require(F.decided(session.commit(.grab(redPacket: "rp"), by: F.member2, now: F.t0)))
        let expiry = try #require(F.decided(session.commit(.expireRedPacket("rp"), by: F.owner, now: F.t0 + 60_000)))
        #expect(expiry.type == .redpacketExpired && expiry.user == F.member.user && expiry.role == nil)
        #expect(expiry.amount == 500 - grab.amount! && expiry.shares == 3)
        F.expectRefused(&session, .grab(redPacket: "rp"), by: F.owner, .gone("expired"))
        // The one who grabbed still gets their answer.
        #expect(session.commit(.grab(redPacket: "rp"), by: F.member2, now: F.t0) == .success(.duplicate(seq: grab.seq)))
        F.expectRefused(&session, .expireRedPacket("rp"), by: F.owner, .gone("expired"))
        F.expectRefused(&session, .expireRedPacket("rp"), by: F.member, .forbidden)
    }

    /// A `redpacket` event of 10 cents split as `amounts`, at seq 2.
    static func packet(_ amounts: [Int64]) -> LiveEvent {
        LiveEvent(
            seq: 2,
            type: .redpacket,
            user: "u",
            at: 0,
            amount: 10,
            currency: "CNY",
            clientID: "r",
            amounts: amounts,
            expiresAt: 9
        )
    }

    @Test func applyRefusesRedPacketEventsThatDoNotAddUp() throws {
        var state = LiveSessionState(id: "s", group: "g", epoch: 1)
        try state.apply(LiveEvent(seq: 1, type: .started, user: "h", at: 0))
        let live = state
        for event in [
            Self.packet([5, 4]), Self.packet([10, 0]),
            LiveEvent(seq: 2, type: .redpacketGrab, user: "u", at: 0, amount: 5, ref: "r"),
        ] {
            #expect(throws: LiveError.self) { try state.apply(event) }
            #expect(state == live)
        }
        try state.apply(Self.packet([6, 4]))
        let sent = state
        for event in [
            LiveEvent(seq: 3, type: .redpacketGrab, user: "v", at: 0, amount: 4, ref: "r"),
            LiveEvent(seq: 3, type: .redpacketExpired, user: "u", at: 0, amount: 4, ref: "r"),
        ] {
            #expect(throws: LiveError.self) { try state.apply(event) }
        }
        #expect(state == sent)
    }

    @Test func productsAreForModeratorsClicksCountOncePerUser() throws {
        var session = F.live()
        let draft = LiveProductDraft(
            id: "p1",
            title: " Tea ",
            price: 1_999,
            currency: "CNY",
            url: "https://shop.example/tea"
        )
        F.expectRefused(&session, .product(draft), by: F.member, .forbidden)
        let posted = try #require(F.decided(session.commit(.product(draft), by: F.host, now: F.t0)))
        #expect(posted.title == "Tea")
        #expect(
            posted.apiJSON().contains(
                #""id":"p1","title":"Tea","price":1999,"currency":"CNY","url":"https://shop.example/tea""#
            )
        )

        var unsafe = draft
        unsafe.url = "javascript:alert(1)"
        F.expectRefused(
            &session,
            .product(unsafe),
            by: F.host,
            .invalid(field: "url", reason: "an http(s) URL of at most 2048 bytes")
        )
        F.expectRefused(&session, .spotlight(product: "p9"), by: F.host, .notFound)
        F.expectRefused(&session, .spotlight(product: "p1"), by: F.member, .forbidden)
        #expect(session.commitSeq(.spotlight(product: "p1"), by: F.admin, now: F.t0) != nil)
        #expect(session.state.spotlight == "p1")

        let clicked = session.commitSeq(.click(product: "p1"), by: F.member, now: F.t0)
        let click = try #require(clicked)
        #expect(session.commit(.click(product: "p1"), by: F.member, now: F.t0) == .success(.duplicate(seq: click)))
        _ = session.commitSeq(.click(product: "p1"), by: F.guest, now: F.t0)
        F.expectRefused(&session, .click(product: "p9"), by: F.member, .notFound)
        #expect(session.state.products["p1"]?.clicks.count == 2)
        // An update keeps the card's clicks.
        var updated = draft
        updated.price = 999
        _ = session.commitSeq(.product(updated), by: F.host, now: F.t0)
        #expect(session.state.products["p1"]?.price == 999 && session.state.products["p1"]?.clicks.count == 2)
    }

    @Test func boardStrokesAreBoundedQuantizedAndRendered() throws {
        var session = F.live()
        let stroke = LiveBoardDraft(kind: .stroke, points: [[0.1, 0.2], [1.0 / 3, 1]], color: "#00ff00", width: 0.01)
        F.expectRefused(&session, .board(stroke), by: F.member, .forbidden)
        let drawn = try #require(F.decided(session.commit(.board(stroke), by: F.host, now: F.t0)))
        #expect(
            drawn.apiJSON().contains(
                ##""kind":"stroke","points":[[0.1,0.2],[0.3333,1]],"color":"#00ff00","width":0.01"##
            )
        )

        let tooLong = LiveBoardDraft(kind: .stroke, points: Array(repeating: [0.5, 0.5], count: 10_000))
        F.expectRefused(&session, .board(tooLong), by: F.host, .invalid(field: "points", reason: "1 to 2000 points"))
        for points in [[[1.5, 0.5]], [[0.5]], [[Double.nan, 0.5]], []] {
            let before = session.state
            #expect(
                session.commitError(.board(LiveBoardDraft(kind: .stroke, points: points)), by: F.host, now: F.t0) != nil
            )
            #expect(session.state == before)
        }
        #expect(
            session.commitError(
                .board(LiveBoardDraft(kind: .stroke, points: [[0, 0]], color: "red")),
                by: F.host,
                now: F.t0
            ) != nil
        )
        #expect(
            session.commitError(
                .board(LiveBoardDraft(kind: .stroke, points: [[0, 0]], width: 0.5)),
                by: F.host,
                now: F.t0
            ) != nil
        )
        #expect(
            session.commitError(.board(LiveBoardDraft(kind: .slide, url: "ftp://x/y.pdf")), by: F.host, now: F.t0)
                != nil
        )
        let slide = try #require(
            F.decided(
                session.commit(
                    .board(LiveBoardDraft(kind: .slide, url: "https://cdn.example/deck.pdf", page: 3)),
                    by: F.host,
                    now: F.t0
                )
            )
        )
        #expect(slide.apiJSON().contains(#""url":"https://cdn.example/deck.pdf","kind":"slide","page":3"#))
    }

    @Test func theBoardIsRateLimitedPastItsBurst() {
        var settings = LiveSessionSettings()
        settings.boardBurst = 3
        var session = F.live(settings: settings)
        let clear = LiveCommand.board(LiveBoardDraft(kind: .clear))
        for _ in 0..<3 { #expect(session.commitSeq(clear, by: F.host, now: F.t0) != nil) }
        guard case .rateLimited? = session.commitError(clear, by: F.host, now: F.t0) else {
            Issue.record("the fourth board event in the same millisecond was not limited")
            return
        }
    }

    @Test func everyEventCarriesTheMediaTimeItWasDecidedAt() throws {
        var session = F.live()
        let event = try #require(
            F.decided(
                session.decide(.comment(text: "hi", clientID: "c"), by: F.member, now: F.t0, mediaMillis: 12_345)
            )
        )
        #expect(event.mediaMillis == 12_345)
        #expect(event.apiJSON().hasSuffix(#""mediaTime":12.345}"#))
        let before = try #require(
            F.decided(session.decide(.comment(text: "hi", clientID: "d"), by: F.member, now: F.t0))
        )
        #expect(!before.apiJSON().contains("mediaTime"), "no media yet: no mediaTime")
    }
}

@Suite("Sharing into groups")
struct LiveShareTests {
    typealias F = LiveFixture

    @Test func sharesAreLoggedOnceForModeratorsAndUnsharesNeedAShare() throws {
        var session = F.live()
        #expect(session.commitError(.share(group: "g2"), by: F.member, now: F.t0) == .forbidden)
        let shared = session.commitSeq(.share(group: "g2"), by: F.host, now: F.t0)
        let seq = try #require(shared)
        #expect(session.commit(.share(group: "g2"), by: F.admin, now: F.t0) == .success(.duplicate(seq: seq)))
        #expect(session.state.sharedInto == ["g2": seq] && session.state.sharedEver == ["g2"])
        let before = session.state
        for bad in ["g1", "bad id", ""] {
            guard case .invalid(let field, _)? = session.commitError(.share(group: bad), by: F.host, now: F.t0) else {
                Issue.record("share into \(bad) was not refused")
                continue
            }
            #expect(field == "group")
        }
        #expect(session.commitError(.unshare(group: "g9"), by: F.host, now: F.t0) == .notFound)
        #expect(session.state == before)
        #expect(session.commitSeq(.unshare(group: "g2"), by: F.owner, now: F.t0) != nil)
        #expect(session.state.sharedInto.isEmpty && session.state.sharedEver == ["g2"], "the replay stays listed there")
    }

    @Test func aWriterThroughAShareCarriesTheirGroup() throws {
        var session = F.live()
        var ann = F.member
        ann.group = "g2"
        guard
            case .success(.append(let event)) = session.decide(.comment(text: "hi", clientID: "c"), by: ann, now: F.t0)
        else {
            Issue.record("the comment was refused")
            return
        }
        #expect(event.group == "g2")
        #expect(event.apiJSON().contains(#""user":"m1","name":"Ann","group":"g2","text":"hi""#))
        #expect(try LiveEventCodec.decode(LiveEventCodec.encode(event)) == event)
    }

    @Test func aPointerNamesItsLiveAndCannotItselfBeShared() throws {
        var pointer = F.pending()
        #expect(
            pointer.commitSeq(.startShare(from: "g1/s1", title: "Launch", record: true), by: F.owner, now: F.t0) == 1
        )
        #expect(pointer.state.info.sharedFrom == "g1/s1" && pointer.state.info.record)
        #expect(pointer.commitError(.share(group: "g3"), by: F.owner, now: F.t0) != nil)
        #expect(
            pointer.commitError(.startShare(from: "g1/s1", title: "", record: true), by: F.owner, now: F.t0)
                == .conflict
        )
        var fresh = F.pending()
        #expect(
            fresh.decide(.startShare(from: "g1/s1", title: "", record: true), by: F.guest, now: F.t0)
                == .failure(.notForGuests)
        )
    }
}
