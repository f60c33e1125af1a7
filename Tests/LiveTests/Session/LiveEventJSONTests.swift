import Foundation
import Testing

@testable import Live

@Suite("Event JSON shape")
struct LiveEventJSONTests {
    static let example = LiveEvent(seq: 42, type: .comment, user: "u1", name: "Ann", at: 1_795_600_800_000, text: "hi")

    @Test func matchesTheAPIExampleExactly() {
        #expect(
            Self.example.apiJSON()
                == #"{"seq":42,"type":"comment","user":"u1","name":"Ann","text":"hi","at":"2026-11-25T10:00:00Z"}"#
        )
    }

    @Test func foundationEncodingOfTheViewHasTheSameContent() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(Self.example.apiView)
        #expect(
            String(decoding: data, as: UTF8.self)
                == #"{"at":"2026-11-25T10:00:00Z","name":"Ann","seq":42,"text":"hi","type":"comment","user":"u1"}"#
        )
    }

    @Test func clientIDAppearsAsIDAndNilFieldsAreOmitted() throws {
        let tip = LiveEvent(
            seq: 7,
            type: .tip,
            user: "u2",
            at: 1_795_600_800_250,
            amount: 500,
            currency: "CNY",
            clientID: "t-1"
        )
        #expect(
            tip.apiJSON()
                == #"{"seq":7,"type":"tip","user":"u2","amount":500,"currency":"CNY","id":"t-1","at":"2026-11-25T10:00:00.250Z"}"#
        )
        let highlight = LiveEvent(seq: 9, type: .highlight, user: "h", at: 0, targetSeq: 8)
        #expect(
            highlight.apiJSON() == #"{"seq":9,"type":"highlight","user":"h","question":8,"at":"1970-01-01T00:00:00Z"}"#
        )
        let kick = LiveEvent(seq: 10, type: .kick, user: "h", at: 0, targetUser: "bad.guy")
        #expect(
            kick.apiJSON() == #"{"seq":10,"type":"kick","user":"h","target":"bad.guy","at":"1970-01-01T00:00:00Z"}"#
        )
        let started = LiveEvent(seq: 1, type: .started, user: "h", at: 0, title: "Hi", record: true)
        #expect(
            started.apiJSON()
                == #"{"seq":1,"type":"started","user":"h","title":"Hi","record":true,"at":"1970-01-01T00:00:00Z"}"#
        )
    }

    @Test func escapesLikeFoundationAndParsesBack() throws {
        let nasty = "q\"b\\s\n\r\t\u{01}\u{1F}é😀\u{2028}</script>"
        let event = LiveEvent(seq: 1, type: .comment, user: "u", name: "N\"", at: 0, text: nasty)
        let parsed = try JSONSerialization.jsonObject(with: Data(event.apiJSON().utf8)) as! [String: Any]
        #expect(parsed["text"] as? String == nasty)
        #expect(parsed["name"] as? String == "N\"")
        #expect(parsed["seq"] as? Int == 1)
        #expect(!event.apiJSON().contains("\n"), "an SSE data line must be one line")
    }

    @Test func eventTypeRawValuesAreTheAPINames() {
        #expect(
            LiveEventType.allCases.map(\.rawValue) == [
                "started", "comment", "tip", "question", "highlight", "pin", "unpin", "mute", "unmute", "kick",
                "ended", "redpacket", "redpacket_grab", "redpacket_expired", "product", "spotlight", "click", "board",
                "shared", "unshared", "scheduled", "unscheduled", "reminded", "fulfilled",
            ]
        )
        #expect(LiveRole.allCases.map(\.rawValue).sorted() == ["admin", "guest", "member", "owner"])
        #expect(LiveModerationAction.allCases.map(\.rawValue) == ["mute", "unmute", "kick"])
    }

    @Test func internalCodableRoundTrips() throws {
        let event = LiveEvent(
            seq: 3,
            type: .tip,
            user: "u",
            name: "N",
            at: 5,
            amount: 1,
            currency: "USD",
            clientID: "c"
        )
        let decoded = try JSONDecoder().decode(LiveEvent.self, from: JSONEncoder().encode(event))
        #expect(decoded == event)
    }
}
