import NIOCore
import NIOEmbedded
import NIOHTTP1
import Synchronization
import Testing

@testable import Node

/// Media viewers written directly by the fan-out: a batch goes to a viewer in step as one write,
/// a slow one skips to the next keyframe chunk by chunk, and one subscribed while a batch was
/// pending never gets a chunk its start already held.
@Suite struct MediaFanoutTests {
    static func chunk(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    /// Everything written to the channel so far, as text.
    static func written(_ channel: EmbeddedChannel) throws -> [String] {
        var out: [String] = []
        while let part = try channel.readOutbound(as: HTTPServerResponsePart.self) {
            if case .body(.byteBuffer(let buffer)) = part { out.append(String(buffer: buffer)) }
        }
        return out
    }

    @Test func aSlowViewerSkipsToTheNextKeyframe() throws {
        let channel = EmbeddedChannel()
        let loop = channel.embeddedEventLoop
        let skips = Atomic<Int>(0)
        let viewer = DirectViewer(
            id: 1,
            user: "u",
            channel: channel,
            policy: .skipToKeyframe,
            limitBytes: 1_000,
            onSkip: { skips.add(1, ordering: .relaxed) }
        )
        let fanout = FanoutGroup(maxWindow: .zero)
        fanout.add(viewer)
        viewer.activate(initial: [Self.chunk("start")])
        loop.run()
        fanout.broadcast(Self.chunk("k1"), seq: 1, keyframe: true)
        fanout.broadcast(Self.chunk("p1"), seq: 2)
        loop.run()
        #expect(try Self.written(channel) == ["start", "k1p1"], "a batch in one write")
        // Behind (its socket buffer full): the rest of this GOP is skipped, once counted.
        channel.isWritable = false
        fanout.broadcast(Self.chunk("p2"), seq: 3)
        fanout.broadcast(Self.chunk("p3"), seq: 4)
        loop.run()
        channel.isWritable = true
        fanout.broadcast(Self.chunk("p4"), seq: 5)
        loop.run()
        #expect(try Self.written(channel).isEmpty, "no chunk before the next keyframe")
        // The keyframe in the middle of a batch: the skipping viewer resumes at it.
        fanout.broadcast(Self.chunk("p5"), seq: 6)
        fanout.broadcast(Self.chunk("k2"), seq: 7, keyframe: true)
        fanout.broadcast(Self.chunk("p6"), seq: 8)
        loop.run()
        #expect(try Self.written(channel) == ["k2", "p6"])
        // In step again: batches are one write again.
        fanout.broadcast(Self.chunk("p7"), seq: 9)
        fanout.broadcast(Self.chunk("p8"), seq: 10)
        loop.run()
        #expect(try Self.written(channel) == ["p7p8"])
        #expect(skips.load(ordering: .relaxed) == 1)
        #expect(fanout.finish() == [1])
        loop.run()
        #expect(fanout.count == 0)
    }

    @Test func aViewerSubscribedMidBatchGetsNoChunkTwice() throws {
        let early = EmbeddedChannel()
        let fanout = FanoutGroup(maxWindow: .zero)
        let first = DirectViewer(
            id: 1,
            user: "a",
            channel: early,
            policy: .skipToKeyframe,
            limitBytes: 1_000,
            onSkip: {}
        )
        fanout.add(first)
        first.activate(initial: [])
        early.embeddedEventLoop.run()
        // Chunk 1 is pending (not flushed) when the second viewer subscribes with a start that
        // already holds it.
        fanout.broadcast(Self.chunk("k1"), seq: 1, keyframe: true)
        let late = DirectViewer(
            id: 2,
            user: "b",
            startAfterSeq: 1,
            channel: early,
            policy: .skipToKeyframe,
            limitBytes: 1_000,
            onSkip: {}
        )
        fanout.add(late)
        late.activate(initial: [Self.chunk("start+k1")])
        fanout.broadcast(Self.chunk("p1"), seq: 2)
        early.embeddedEventLoop.run()
        let all = try Self.written(early).joined()
        #expect(all.components(separatedBy: "k1").count - 1 == 2, "the start's and the first's: \(all)")
        #expect(all.components(separatedBy: "p1").count - 1 == 2, "\(all)")
    }
}
