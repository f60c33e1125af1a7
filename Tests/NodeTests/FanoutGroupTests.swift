import Determinism
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import Node

/// The fan-out's rounds of slices, and the HTTP/1.x bytes a viewer gets when it writes below
/// the response encoder.
@Suite struct FanoutGroupTests {
    /// Drains what `channel` wrote as body parts (a viewer without an encoder below it).
    static func bodyText(_ channel: EmbeddedChannel) throws -> String {
        try MediaFanoutTests.written(channel).joined()
    }

    /// Drains the raw bytes `channel` wrote (the encoder's output and what was written below it).
    static func rawText(_ channel: EmbeddedChannel) throws -> String {
        var out = ""
        while let data = try channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(let buffer) = data { out += String(buffer: buffer) }
        }
        return out
    }

    /// Viewers joining and leaving at random between events, in slices of three on one loop:
    /// every viewer gets every event published after it joined, once, in order, however the
    /// rounds cut the batches.
    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func everyViewerGetsEachLaterEventOnceInOrder(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        let loop = EmbeddedEventLoop()
        let fanout = FanoutGroup(maxWindow: .zero, sliceSize: 3)
        var viewers: [(DirectViewer, EmbeddedChannel, expected: String)] = []
        var published: UInt64 = 0
        var nextID: UInt64 = 0
        for step in 0..<400 {
            switch random.next() % 10 {
            case 0, 1:
                nextID += 1
                let channel = EmbeddedChannel(loop: loop)
                let viewer = DirectViewer(
                    id: nextID,
                    user: "u\(nextID)",
                    startAfterSeq: published,
                    channel: channel,
                    policy: .disconnectWhenBehind,
                    limitBytes: 1 << 20,
                    onSkip: {}
                )
                fanout.add(viewer)
                viewer.activate(initial: [ByteBuffer(string: "[\(nextID)]")])
                viewers.append((viewer, channel, "[\(nextID)]"))
            case 2 where !viewers.isEmpty:
                let index = Int(random.next() % UInt64(viewers.count))
                let (viewer, channel, expected) = viewers.remove(at: index)
                loop.run()
                let before = try Self.bodyText(channel)
                // A removed viewer's text so far is a prefix of what it expected.
                #expect(expected.hasPrefix(before), "seed \(seed) step \(step)")
                fanout.remove(viewer.id)
            case 3:
                loop.advanceTime(by: .microseconds(Int64(random.next() % 100)))
            default:
                published += 1
                let text = "e\(published);"
                fanout.broadcast(ByteBuffer(string: text), seq: published)
                for index in viewers.indices { viewers[index].expected += text }
            }
        }
        // Rounds end: every slice is visited until none is behind.
        for _ in 0..<1_000 { loop.advanceTime(by: .milliseconds(1)) }
        for (viewer, channel, expected) in viewers {
            #expect(try Self.bodyText(channel) == expected, "viewer \(viewer.id), seed \(seed)")
        }
    }

    /// A stats line (no seq) published before a viewer joined may reach it; an event it already
    /// had never does, even when it joined while that event was pending in the same slice.
    @Test func aViewerJoiningMidRoundSkipsWhatItsStartHeld() throws {
        let loop = EmbeddedEventLoop()
        let fanout = FanoutGroup(maxWindow: .zero, sliceSize: 2)
        let early = EmbeddedChannel(loop: loop)
        let first = DirectViewer(id: 1, user: "a", channel: early, policy: .disconnectWhenBehind, limitBytes: 1 << 20) {
        }
        fanout.add(first)
        first.activate(initial: [])
        fanout.broadcast(ByteBuffer(string: "e1;"), seq: 1)
        let lateChannel = EmbeddedChannel(loop: loop)
        let late = DirectViewer(
            id: 2,
            user: "b",
            startAfterSeq: 1,
            channel: lateChannel,
            policy: .disconnectWhenBehind,
            limitBytes: 1 << 20
        ) {}
        fanout.add(late)
        late.activate(initial: [ByteBuffer(string: "backlog(e1);")])
        fanout.broadcast(ByteBuffer(string: "e2;"), seq: 2)
        loop.run()
        #expect(try Self.bodyText(early) == "e1;e2;")
        #expect(try Self.bodyText(lateChannel) == "backlog(e1);e2;")
        #expect(fanout.finish().count == 2)
        loop.run()
        #expect(fanout.count == 0)
    }

    /// With a period, a slice visited once waits for it: what is published meanwhile goes out
    /// together at the next visit, in one buffer; a quiet group's first event goes out at once.
    @Test func aSliceWaitsItsPeriodAndTakesTheBatchInOneWrite() throws {
        let loop = EmbeddedEventLoop()
        let fanout = FanoutGroup(minPeriod: .milliseconds(100))
        let channel = EmbeddedChannel(loop: loop)
        let viewer = DirectViewer(
            id: 1,
            user: "u",
            channel: channel,
            policy: .disconnectWhenBehind,
            limitBytes: 1 << 20
        ) {}
        fanout.add(viewer)
        viewer.activate(initial: [])
        loop.run()
        fanout.broadcast(ByteBuffer(string: "e1;"), seq: 1)
        loop.run()
        #expect(try MediaFanoutTests.written(channel) == ["e1;"], "the first event of a quiet group goes out at once")
        fanout.broadcast(ByteBuffer(string: "e2;"), seq: 2)
        loop.advanceTime(by: .milliseconds(30))
        fanout.broadcast(ByteBuffer(string: "e3;"), seq: 3)
        loop.advanceTime(by: .milliseconds(60))
        #expect(try MediaFanoutTests.written(channel).isEmpty, "within the period")
        loop.advanceTime(by: .milliseconds(10))
        #expect(try MediaFanoutTests.written(channel) == ["e2;e3;"])
    }

    /// An HTTP/1.1 viewer writes below the encoder, framed as chunks by the fan-out; the encoder
    /// still writes the head before and the terminator after. An empty buffer writes nothing (a
    /// zero-size chunk would end the body).
    @Test func http11ViewersGetChunksFramedOnceForAll() throws {
        let loop = EmbeddedEventLoop()
        let fanout = FanoutGroup(maxWindow: .zero)
        var channels: [EmbeddedChannel] = []
        for id in 1...2 as ClosedRange<UInt64> {
            let channel = EmbeddedChannel(handler: HTTPResponseEncoder(), loop: loop)
            try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
            let viewer = DirectViewer(
                id: id,
                user: "u",
                channel: channel,
                framing: .http1(chunked: true),
                policy: .disconnectWhenBehind,
                limitBytes: 1 << 20
            ) {}
            fanout.add(viewer)
            viewer.activate(initial: [ByteBuffer(string: "a"), ByteBuffer(), ByteBuffer(string: "0123456789abcdef")])
            channels.append(channel)
        }
        loop.run()
        fanout.broadcast(ByteBuffer(string: "data: x\n\n"), seq: 1)
        fanout.broadcast(ByteBuffer(), seq: nil)
        loop.run()
        fanout.broadcast(ByteBuffer(string: "y"), seq: 2)
        fanout.broadcast(ByteBuffer(string: "z"), seq: 3)
        loop.run()
        for channel in channels {
            try channel.writeOutbound(HTTPServerResponsePart.end(nil))
            #expect(
                try Self.rawText(channel)
                    == "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                    + "1\r\na\r\n10\r\n0123456789abcdef\r\n9\r\ndata: x\n\n\r\n2\r\nyz\r\n0\r\n\r\n"
            )
        }
    }

    /// An HTTP/1.0 viewer's body is the bytes themselves, ended by the connection.
    @Test func http10ViewersGetTheBytesUnframed() throws {
        let loop = EmbeddedEventLoop()
        let fanout = FanoutGroup(maxWindow: .zero)
        let channel = EmbeddedChannel(handler: HTTPResponseEncoder(), loop: loop)
        try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_0, status: .ok)))
        let viewer = DirectViewer(
            id: 1,
            user: "u",
            channel: channel,
            framing: .http1(version: .http1_0),
            policy: .disconnectWhenBehind,
            limitBytes: 1 << 20
        ) {}
        fanout.add(viewer)
        viewer.activate(initial: [ByteBuffer(string: "start;")])
        loop.run()
        fanout.broadcast(ByteBuffer(string: "e1;"), seq: 1)
        loop.run()
        #expect(try Self.rawText(channel) == "HTTP/1.0 200 OK\r\n\r\nstart;e1;")
    }
}
