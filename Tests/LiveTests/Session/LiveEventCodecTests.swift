import Foundation
import Testing

@testable import Live

/// The binary log form of events: every field round-trips, the older JSON form stays
/// distinguishable, and no input (random, truncated, corrupted) crashes the decoder.
@Suite("Event binary codec")
struct LiveEventCodecTests {
    static func randomString(_ rng: inout LiveTestRNG) -> String {
        let alphabet = Array("abcé群播😀\"\\\n ")
        return String((0..<Int.random(in: 0...12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
    }

    static func randomEvent(_ rng: inout LiveTestRNG) -> LiveEvent {
        func maybe<T>(_ make: () -> T) -> T? { Bool.random(using: &rng) ? make() : nil }
        var event = LiveEvent(
            seq: UInt64.random(in: 0...UInt64.max, using: &rng),
            type: LiveEventType.allCases.randomElement(using: &rng)!,
            user: randomString(&rng),
            at: Int64.random(in: Int64.min...Int64.max, using: &rng)
        )
        event.name = maybe { randomString(&rng) }
        event.text = maybe { randomString(&rng) }
        event.amount = maybe { Int64.random(in: Int64.min...Int64.max, using: &rng) }
        event.currency = maybe { randomString(&rng) }
        event.clientID = maybe { randomString(&rng) }
        event.targetSeq = maybe { UInt64.random(in: 0...UInt64.max, using: &rng) }
        event.targetUser = maybe { randomString(&rng) }
        event.title = maybe { randomString(&rng) }
        event.record = maybe { Bool.random(using: &rng) }
        event.role = maybe { LiveRole.allCases.randomElement(using: &rng)! }
        event.ref = maybe { randomString(&rng) }
        event.shares = maybe { Int.random(in: Int.min...Int.max, using: &rng) }
        event.amounts = maybe {
            (0..<Int.random(in: 0...5, using: &rng)).map { _ in Int64.random(in: Int64.min...Int64.max, using: &rng) }
        }
        event.expiresAt = maybe { Int64.random(in: Int64.min...Int64.max, using: &rng) }
        event.url = maybe { randomString(&rng) }
        event.image = maybe { randomString(&rng) }
        event.board = maybe {
            LiveBoard(
                kind: LiveBoard.Kind.allCases.randomElement(using: &rng)!,
                page: maybe { Int.random(in: Int.min...Int.max, using: &rng) },
                points: (0..<Int.random(in: 0...6, using: &rng)).map { _ in
                    UInt16.random(in: 0...UInt16.max, using: &rng)
                },
                color: maybe { randomString(&rng) },
                width: maybe { Int.random(in: -5...20_000, using: &rng) }
            )
        }
        event.mediaMillis = maybe { Int64.random(in: Int64.min...Int64.max, using: &rng) }
        return event
    }

    @Test func everyFieldRoundTrips() throws {
        var rng = LiveTestRNG(seed: 1)
        for _ in 0..<2_000 {
            let event = Self.randomEvent(&rng)
            let bytes = LiveEventCodec.encode(event)
            #expect(bytes.first == LiveEventCodec.version)
            #expect(try LiveEventCodec.decode(bytes) == event)
        }
    }

    @Test func typeCodesCoverEveryTypeOnce() {
        #expect(Set(LiveEventCodec.typeCodes.keys) == Set(LiveEventType.allCases))
        #expect(Set(LiveEventCodec.typeCodes.values).count == LiveEventType.allCases.count)
    }

    @Test func isSmallerThanJSON() throws {
        let event = LiveEvent(seq: 42, type: .comment, user: "u1", name: "Ann", at: 1_795_600_800_000, text: "hi")
        let json = try JSONEncoder().encode(event)
        #expect(LiveEventCodec.encode(event).count * 2 < json.count)
        #expect(json.first == UInt8(ascii: "{"), "the JSON form is told apart by its first byte")
    }

    @Test func refusesWhatItCannotRead() {
        let event = LiveEvent(seq: 7, type: .tip, user: "u", at: 5, amount: 100, currency: "EUR", clientID: "c")
        let bytes = LiveEventCodec.encode(event)
        #expect(throws: LiveEventCodec.DecodeError.empty) { try LiveEventCodec.decode([]) }
        #expect(throws: LiveEventCodec.DecodeError.unknownVersion(0x7B)) { try LiveEventCodec.decode(Array("{}".utf8)) }
        for cut in 1..<bytes.count {
            #expect(throws: LiveEventCodec.DecodeError.self) { try LiveEventCodec.decode(Array(bytes.prefix(cut))) }
        }
        #expect(throws: LiveEventCodec.DecodeError.trailingBytes(1)) { try LiveEventCodec.decode(bytes + [0]) }
        var badType = bytes
        badType[2] = 99
        #expect(throws: LiveEventCodec.DecodeError.unknownType(99)) { try LiveEventCodec.decode(badType) }
        var badRole = LiveEventCodec.encode(LiveEvent(seq: 1, type: .comment, user: "u", at: 0, role: .admin))
        badRole[badRole.count - 1] = 9
        #expect(throws: LiveEventCodec.DecodeError.unknownRole(9)) { try LiveEventCodec.decode(badRole) }
        // A varint over 64 bits for seq.
        #expect(throws: LiveEventCodec.DecodeError.badVarint) {
            try LiveEventCodec.decode([1] + [UInt8](repeating: 0xFF, count: 10) + [1])
        }
        // An overlong seq (7 in two bytes): refused like the replication codec refuses it, so each
        // event has one encoding.
        var overlong = bytes
        overlong.replaceSubrange(1..<2, with: [0x87, 0x00])
        #expect(throws: LiveEventCodec.DecodeError.badVarint) { try LiveEventCodec.decode(overlong) }
    }

    @Test func randomAndMutatedInputNeverCrashes() {
        var rng = LiveTestRNG(seed: 2)
        for _ in 0..<5_000 {
            var bytes = LiveEventCodec.encode(Self.randomEvent(&rng))
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            _ = try? LiveEventCodec.decode(bytes)
            _ = try? LiveEventCodec.decode([1] + rng.bytes(Int.random(in: 0...40, using: &rng)))
        }
    }
}
