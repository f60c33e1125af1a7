import CoreMetrics
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import Node

/// The request handler on NIO's real HTTP/1.1 server pipeline (an async testing channel, whose
/// loop takes work from other threads as a real one does): immediate routes on the loop, async
/// routes in a task, pipelined requests in order, unread bodies drained or the connection closed,
/// a streamed body's back-pressure, and `Connection: close`.
@Suite("Request handler")
struct RequestHandlerTests {
    /// Opens for the test what a route waits for.
    final class Gate: Sendable {
        private let stream: AsyncStream<Void>
        private let continuation: AsyncStream<Void>.Continuation
        init() { (stream, continuation) = AsyncStream.makeStream() }
        func open() { continuation.yield() }
        func wait() async { for await _ in stream { return } }
    }

    /// Counts `read` calls that reach the front of the pipeline (the socket).
    final class ReadCounter: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = Any
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    static func router(gate: Gate, bodyBytes: NIOLockedValueBox<Int>) -> Router {
        var router = Router(logger: Logger(label: "test"))
        router.addImmediate(.GET, "/now") { _ in .text("now") }
        router.add(.GET, "/slow") { _ in
            await gate.wait()
            return .text("slow")
        }
        router.addImmediate(.POST, "/ignore") { _ in .text("ignored") }
        router.add(.POST, "/hold") { request in
            await gate.wait()
            let body = try await request.body.collect(upTo: 1 << 20)
            bodyBytes.withLockedValue { $0 = body.readableBytes }
            return .text("read \(body.readableBytes)")
        }
        return router
    }

    static func channel(
        router: Router,
        maxBodyBytes: Int = 1024,
        counter: ReadCounter? = nil
    ) async throws -> NIOAsyncTestingChannel {
        let channel = NIOAsyncTestingChannel()
        let serving = RequestServing(
            router: router,
            nodeID: "n1",
            maxBodyBytes: maxBodyBytes,
            metrics: ServerMetrics(factory: NOOPMetricsHandler.instance),
            logger: Logger(label: "test")
        )
        try await channel.testingEventLoop.executeInContext {
            let sync = channel.pipeline.syncOperations
            if let counter { try sync.addHandler(counter) }
            try sync.configureHTTPServerPipeline(withErrorHandling: false)
            try sync.addHandler(
                RequestHandler(
                    serving: serving,
                    connection: ConnectionFacts(isHTTP2: false, remote: nil, certified: false)
                )
            )
        }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1))
        return channel
    }

    /// Everything written so far, as text.
    static func written(_ channel: NIOAsyncTestingChannel) async throws -> String {
        var all = ByteBuffer()
        while let part = try await channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(var buffer) = part { all.writeBuffer(&buffer) }
        }
        return String(buffer: all)
    }

    /// Waits (deadline 10 s) until the output so far satisfies `done`; returns it.
    static func waitForOutput(
        _ channel: NIOAsyncTestingChannel,
        _ done: (String) -> Bool
    ) async throws -> String {
        var text = ""
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            text += try await written(channel)
            if done(text) { return text }
            try await Task.sleep(for: .milliseconds(5))
        }
        Issue.record("output never matched; got: \(text)")
        return text
    }

    static func bodies(_ text: String) -> [String] {
        text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.components(separatedBy: "\r\n\r\n").last ?? "" }
    }

    @Test("an immediate route is answered while the request is read, before any task runs")
    func immediateOnTheLoop() async throws {
        let gate = Gate()
        let channel = try await Self.channel(router: Self.router(gate: gate, bodyBytes: .init(0)))
        try await channel.writeInbound(ByteBuffer(string: "GET /now HTTP/1.1\r\nHost: x\r\n\r\n"))
        // No waiting: the response was written by the time the read returned.
        let text = try await Self.written(channel)
        #expect(text.hasPrefix("HTTP/1.1 200 OK"))
        #expect(text.contains("Qunbo-Node: n1"))
        #expect(text.hasSuffix("\r\n\r\nnow"))
        _ = try? await channel.finish()
    }

    @Test("pipelined requests are answered in order: an immediate one waits behind an async one")
    func pipelinedInOrder() async throws {
        let gate = Gate()
        let channel = try await Self.channel(router: Self.router(gate: gate, bodyBytes: .init(0)))
        try await channel.writeInbound(
            ByteBuffer(string: "GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /now HTTP/1.1\r\nHost: x\r\n\r\n")
        )
        // /slow waits for the gate: nothing may be written yet, /now included.
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await Self.written(channel).isEmpty)
        gate.open()
        let text = try await Self.waitForOutput(channel) { Self.bodies($0).count == 2 }
        #expect(Self.bodies(text) == ["slow", "now"])
        _ = try? await channel.finish()
    }

    @Test("an unread body is drained up to the limit (connection kept), past it the connection closes")
    func unreadBodyDrainedOrClosed() async throws {
        let gate = Gate()
        let channel = try await Self.channel(router: Self.router(gate: gate, bodyBytes: .init(0)), maxBodyBytes: 1024)
        // Chunked: streamed to the route, which answers (at once: an immediate route) without
        // reading it; what follows the answer is read and dropped.
        let small = String(repeating: "a", count: 500)
        try await channel.writeInbound(
            ByteBuffer(string: "POST /ignore HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1f4\r\n\(small)\r\n")
        )
        _ = try await Self.waitForOutput(channel) { $0.hasSuffix("ignored") }
        try await channel.writeInbound(ByteBuffer(string: "0\r\n\r\nGET /now HTTP/1.1\r\nHost: x\r\n\r\n"))
        _ = try await Self.waitForOutput(channel) { $0.hasSuffix("now") }
        #expect(channel.isActive)

        let big = String(repeating: "b", count: 2000)
        try await channel.writeInbound(
            ByteBuffer(string: "POST /ignore HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n\(big)\r\n")
        )
        _ = try await Self.waitForOutput(channel) { $0.hasSuffix("ignored") }
        let deadline = ContinuousClock.now + .seconds(10)
        while channel.isActive && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(!channel.isActive)
    }

    @Test("a streamed body the route does not read yet holds the socket's reads until it does")
    func streamedBodyBackPressure() async throws {
        let gate = Gate()
        let bodyBytes = NIOLockedValueBox(0)
        let counter = ReadCounter()
        let channel = try await Self.channel(
            router: Self.router(gate: gate, bodyBytes: bodyBytes),
            maxBodyBytes: 1 << 20,
            counter: counter
        )
        try await channel.writeInbound(ByteBuffer(string: "POST /hold HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"))
        let chunk = String(repeating: "c", count: 100)
        for _ in 0..<20 { try await channel.writeInbound(ByteBuffer(string: "64\r\n\(chunk)\r\n")) }
        // Past the high watermark: a read asked for now is held, not passed to the socket.
        let before = try await channel.testingEventLoop.executeInContext { counter.reads }
        channel.pipeline.read()
        try await channel.testingEventLoop.executeInContext {}
        #expect(try await channel.testingEventLoop.executeInContext { counter.reads } == before)
        // The route reads: the held read goes out, and the rest of the body can come.
        gate.open()
        let deadline = ContinuousClock.now + .seconds(10)
        while try await channel.testingEventLoop.executeInContext({ counter.reads }) == before,
            ContinuousClock.now < deadline
        {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(try await channel.testingEventLoop.executeInContext { counter.reads } > before)
        try await channel.writeInbound(ByteBuffer(string: "64\r\n\(chunk)\r\n0\r\n\r\n"))
        let text = try await Self.waitForOutput(channel) { $0.contains("read ") }
        #expect(text.hasSuffix("read 2100"))
        #expect(bodyBytes.withLockedValue { $0 } == 2100)
        _ = try? await channel.finish()
    }

    @Test("Connection: close and HTTP/1.0 without keep-alive close after the response")
    func closesWhenAsked() async throws {
        for request in [
            "GET /now HTTP/1.1\r\nConnection: close\r\n\r\n", "GET /now HTTP/1.0\r\n\r\n",
        ] {
            let channel = try await Self.channel(router: Self.router(gate: Gate(), bodyBytes: .init(0)))
            try await channel.writeInbound(ByteBuffer(string: request))
            let text = try await Self.waitForOutput(channel) { $0.hasSuffix("now") }
            #expect(text.contains("Connection: close"))
            let deadline = ContinuousClock.now + .seconds(10)
            while channel.isActive && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
            #expect(!channel.isActive, "\(request)")
        }
    }
}
