import NIOCore
import Shard
import Testing

@testable import Node

/// The edge relays' link messages (issue 17): subscribe, feed and unsubscribe round-trip, and a
/// peer's garbage is an error, never a crash or a large allocation.
@Suite("Relay link messages")
struct RelayMessageTests {
    static let feed = RelayFeed(
        group: "g1",
        session: "0199-abc",
        epoch: 3,
        members: ["n1", "n2", "n3"],
        prev: 10,
        upTo: 14,
        commit: 20,
        entries: [
            ReplicationEntry(seq: 11, epoch: 3, kind: .data(Array("a".utf8))),
            ReplicationEntry(seq: 13, epoch: 3, kind: .data(Array("bc".utf8))),
        ]
    )

    static func encoded(_ messages: [LinkMessage]) -> ByteBuffer {
        var payload = ByteBuffer()
        for message in messages { message.encode(into: &payload) }
        return payload
    }

    @Test("subscribe, feed and unsubscribe round-trip in order")
    func roundTrip() throws {
        let payload = Self.encoded([
            .subscribe(group: "g1", session: "s", node: "n4", after: 42, restart: true, members: ["n1", "n2"]),
            .feed(Self.feed),
            .unsubscribe(group: "g1", session: "s", node: "n4"),
        ])
        let decoded = try LinkMessage.decodeAll(payload)
        guard decoded.count == 3,
            case .subscribe("g1", "s", "n4", 42, true, let members) = decoded[0],
            case .feed(let feed) = decoded[1],
            case .unsubscribe("g1", "s", "n4") = decoded[2]
        else {
            Issue.record("decoded \(decoded)")
            return
        }
        #expect(members == ["n1", "n2"])
        #expect(feed == Self.feed)
    }

    @Test("an empty feed (a heartbeat) round-trips")
    func heartbeat() throws {
        var empty = Self.feed
        empty.entries = []
        empty.prev = 14
        let decoded = try LinkMessage.decodeAll(Self.encoded([.feed(empty)]))
        guard case .feed(let feed) = decoded.first else {
            Issue.record("not a feed")
            return
        }
        #expect(feed == empty)
    }

    @Test("a feed whose entries fall outside its range, or out of order, is refused")
    func contradictions() {
        var outside = Self.feed
        outside.entries.append(ReplicationEntry(seq: 15, epoch: 3, kind: .data([1])))
        var unordered = Self.feed
        unordered.entries.reverse()
        var backwards = Self.feed
        backwards.prev = 16
        for bad in [outside, unordered, backwards] {
            #expect(throws: LinkMessage.DecodeError.malformed) {
                try LinkMessage.decodeAll(Self.encoded([.feed(bad)]))
            }
        }
    }

    @Test("every truncation is an error; a huge entry count in a short frame allocates nothing")
    func truncations() {
        let bytes = Array(Self.encoded([.feed(Self.feed)]).readableBytesView)
        for cut in 1..<bytes.count {
            #expect(throws: LinkMessage.DecodeError.self) {
                try LinkMessage.decodeAll(ByteBuffer(bytes: bytes[..<cut]))
            }
        }
        var lying = ByteBuffer()
        lying.writeInteger(UInt32(0))
        lying.writeInteger(UInt8(6))
        for text in ["g", "s"] {
            lying.writeInteger(UInt16(text.utf8.count))
            lying.writeString(text)
        }
        lying.writeInteger(UInt64(1))
        lying.writeInteger(UInt8(0))
        lying.writeInteger(UInt64(0))
        lying.writeInteger(UInt64(0))
        lying.writeInteger(UInt64(0))
        lying.writeInteger(UInt32.max)
        lying.setInteger(UInt32(lying.readableBytes - 4), at: 0)
        #expect(throws: LinkMessage.DecodeError.truncated) { try LinkMessage.decodeAll(lying) }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var random = ByteBuffer()
            let body = (0..<Int.random(in: 1...80, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            random.writeInteger(UInt32(body.count + 1))
            random.writeInteger(UInt8.random(in: 5...7, using: &rng))
            random.writeBytes(body)
            _ = try? LinkMessage.decodeAll(random)
        }
    }
}
