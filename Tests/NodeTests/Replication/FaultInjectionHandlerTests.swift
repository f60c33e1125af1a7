import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import Node

/// Faults injected on a link stream by a handler on the stream itself (the chaos runs' path is
/// production's path): delayed frames keep their order, a lost frame closes the stream.
@Suite("Fault injection on a link stream")
struct FaultInjectionHandlerTests {
    static func setUp(_ faults: FaultInjector.Faults) throws -> (EmbeddedChannel, FaultInjector) {
        let view = ClusterView(myself: ClusterPiecesTests.member("a", .alive))
        let injector = FaultInjector(view: view)
        injector.set(faults)
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(FaultInjectionHandler(faults: injector, node: "b"))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, injector)
    }

    static func body(_ text: String) -> HTTPClientRequestPart { .body(.byteBuffer(ByteBuffer(string: text))) }

    static func written(_ channel: EmbeddedChannel) throws -> [String] {
        var out: [String] = []
        while let part = try channel.readOutbound(as: HTTPClientRequestPart.self) {
            if case .body(.byteBuffer(let buffer)) = part { out.append(String(buffer: buffer)) }
        }
        return out
    }

    @Test("without faults frames pass at once")
    func passThrough() throws {
        let (channel, _) = try Self.setUp(.init())
        channel.writeAndFlush(Self.body("1"), promise: nil)
        channel.writeAndFlush(Self.body("2"), promise: nil)
        #expect(try Self.written(channel) == ["1", "2"])
    }

    @Test("a delay holds frames back, and a frame sent once the delay is lifted waits its turn")
    func delayKeepsOrder() throws {
        var faults = FaultInjector.Faults()
        faults.delayMs = ["b": 50]
        let (channel, injector) = try Self.setUp(faults)
        channel.writeAndFlush(Self.body("1"), promise: nil)
        channel.writeAndFlush(Self.body("2"), promise: nil)
        injector.set(.init())
        channel.writeAndFlush(Self.body("3"), promise: nil)
        #expect(try Self.written(channel).isEmpty)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(49))
        #expect(try Self.written(channel).isEmpty)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(try Self.written(channel) == ["1", "2", "3"])
        channel.writeAndFlush(Self.body("4"), promise: nil)
        #expect(try Self.written(channel) == ["4"])
    }

    @Test("a dropped frame closes the stream, so the link reconnects")
    func dropCloses() throws {
        var faults = FaultInjector.Faults()
        faults.drop = ["b"]
        let (channel, _) = try Self.setUp(faults)
        let promise = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(Self.body("1"), promise: promise)
        #expect(throws: (any Error).self) { try promise.futureResult.wait() }
        #expect(!channel.isActive)
        #expect(try Self.written(channel).isEmpty)
    }
}
