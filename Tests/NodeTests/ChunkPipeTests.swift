import NIOCore
import Testing

@testable import Node

/// The hand-off of an ingest's chunks to one forwarding attempt: order, back-pressure, the end,
/// and a failed attempt releasing the producer without taking its chunk.
@Suite("Chunk pipe")
struct ChunkPipeTests {
    static func chunk(_ n: Int) -> ByteBuffer { ByteBuffer(integer: UInt32(n)) }
    static func value(_ chunk: ByteBuffer?) -> Int? {
        chunk?.getInteger(at: chunk!.readerIndex, as: UInt32.self).map(Int.init)
    }

    @Test("chunks arrive in order, then nil after finish")
    func order() async {
        let pipe = ChunkPipe(capacity: 4)
        let consumer = Task { () -> [Int] in
            var got: [Int] = []
            while let chunk = await pipe.next() { got.append(Self.value(chunk)!) }
            return got
        }
        for n in 0..<100 { #expect(await pipe.send(Self.chunk(n))) }
        pipe.finish()
        #expect(await consumer.value == Array(0..<100))
    }

    @Test("a full pipe suspends the producer until the consumer takes one")
    func backPressure() async throws {
        let pipe = ChunkPipe(capacity: 2)
        #expect(await pipe.send(Self.chunk(0)))
        let blocked = Task { await pipe.send(Self.chunk(1)) }
        // The second send fills the pipe and waits; it returns true once a chunk is taken.
        #expect(Self.value(await pipe.next()) == 0)
        #expect(await blocked.value)
        #expect(Self.value(await pipe.next()) == 1)
    }

    @Test("a failed pipe answers the waiting and the next sends false, and the consumer nil")
    func failure() async {
        let pipe = ChunkPipe(capacity: 1)
        let waiting = Task { await pipe.send(Self.chunk(0)) }
        pipe.fail()
        #expect(await !waiting.value)
        #expect(await !pipe.send(Self.chunk(1)))
        #expect(await pipe.next() == nil)
    }

    @Test("a consumer waiting on an empty pipe wakes on failure and on finish")
    func wakes() async {
        let failed = ChunkPipe()
        let a = Task { await failed.next() }
        failed.fail()
        #expect(await a.value == nil)
        let finished = ChunkPipe()
        let b = Task { await finished.next() }
        finished.finish()
        #expect(await b.value == nil)
    }
}
