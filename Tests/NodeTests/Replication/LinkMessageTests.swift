import NIOCore
import Shard
import Testing

@testable import Node

@Suite("Link messages and queues")
struct LinkMessageTests {
    static let append = ReplicationMessage(
        session: "0199-abc",
        sender: "n1",
        epoch: 4,
        kind: .append(
            prevSeq: 7,
            prevEpoch: 3,
            entries: [ReplicationEntry(seq: 8, epoch: 4, kind: .data(Array("{}".utf8)))],
            commitSeq: 7
        )
    )

    @Test("every kind round-trips, several to a frame payload, in order")
    func roundTrip() throws {
        var payload = ByteBuffer()
        LinkMessage.replication(group: "g1", Self.append).encode(into: &payload)
        LinkMessage.media(group: "g1", session: "s", ByteBuffer(bytes: [0x47, 1, 2, 3])).encode(into: &payload)
        LinkMessage.leaving(group: "g1", session: "s", node: "n2").encode(into: &payload)
        LinkMessage.removed(group: "g1", session: "s", node: "n3", epoch: 7).encode(into: &payload)
        let decoded = try LinkMessage.decodeAll(payload)
        #expect(decoded.count == 4)
        guard case .replication(let group, let message) = decoded[0] else {
            Issue.record("not replication")
            return
        }
        #expect(group == "g1" && message == Self.append)
        guard case .media(_, let session, let bytes) = decoded[1] else {
            Issue.record("not media")
            return
        }
        #expect(session == "s" && Array(bytes.readableBytesView) == [0x47, 1, 2, 3])
        guard case .leaving(_, _, let leaving) = decoded[2], case .removed(_, _, let removed, 7) = decoded[3] else {
            Issue.record("not leaving/removed")
            return
        }
        #expect(leaving == "n2" && removed == "n3")
    }

    @Test("truncations and random bytes are refused with an error, never a crash")
    func garbage() {
        var payload = ByteBuffer()
        LinkMessage.replication(group: "g1", Self.append).encode(into: &payload)
        let bytes = Array(payload.readableBytesView)
        for cut in 1..<bytes.count {
            #expect(throws: LinkMessage.DecodeError.self) {
                try LinkMessage.decodeAll(ByteBuffer(bytes: bytes[..<cut]))
            }
        }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let random = (0..<Int.random(in: 1...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = try? LinkMessage.decodeAll(ByteBuffer(bytes: random))
        }
    }

    @Test("a queue hands out everything queued as one batch, and drops past its limit")
    func queue() async {
        let queue = LinkQueue(limitBytes: 64)
        #expect(queue.push(.leaving(group: "g", session: "s", node: "a")))
        #expect(queue.push(.leaving(group: "g", session: "s", node: "b")))
        var accepted = 2
        while queue.push(.leaving(group: "g", session: "s", node: "c")) { accepted += 1 }
        let batch = await queue.take()
        #expect(try! LinkMessage.decodeAll(batch!).count == accepted)
        #expect(queue.queuedBytes == 0)
    }

    @Test("a waiting take wakes on the next push, and a cancelled one returns nil without poisoning the queue")
    func takeWaits() async {
        let queue = LinkQueue(limitBytes: 1 << 20)
        async let batch = queue.take()
        try? await Task.sleep(for: .milliseconds(20))
        _ = queue.push(.leaving(group: "g", session: "s", node: "a"))
        #expect(await batch != nil)

        let cancelled = Task { await queue.take() }
        cancelled.cancel()
        #expect(await cancelled.value == nil)
        _ = queue.push(.leaving(group: "g", session: "s", node: "b"))
        #expect(await queue.take() != nil)
    }
}
