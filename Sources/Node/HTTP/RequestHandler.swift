import Logging
import NIOCore
import NIOHTTP1

/// Serves the requests of one HTTP/1.x connection (in order, one at a time: NIO's pipelining
/// handler holds the next request until this one's response has ended) or of one HTTP/2
/// stream, from the channel's event loop.
///
/// Why a handler and not a task per connection: a task parked on a keep-alive connection
/// keeps every async frame its last request used (an idle connection cost 20 KiB), and each
/// request paid hops between the loop and the task's thread. Here an idle connection holds its
/// channel and this handler; a request whose route is immediate (`Router.addImmediate`) is
/// answered on the loop, and other routes run in one task per request that ends with it.
///
/// A request body that announces at most `RequestServing.smallBody` bytes is collected before
/// routing and handed over whole; any other body streams to the route with back-pressure (the
/// socket is not read while the route is `BodyStream`'s high watermark behind).
final class RequestHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum Phase {
        /// Between requests.
        case awaitingHead
        /// Reading a small body before routing.
        case collecting(HTTPRequestHead, ByteBuffer?, ContinuousClock.Instant)
        /// The route reads the body as it arrives.
        case streaming(BodyStream.Source)
        /// The response is out; what is left of the body is read and dropped (so many bytes so far).
        case discarding(Int)
        /// The request's end was read.
        case ended
    }

    let serving: RequestServing
    private let connection: ConnectionFacts
    private var phase = Phase.awaitingHead
    /// An HTTP/2 stream's own limits, kept here rather than in handlers of their own: a stream
    /// is a channel made per request, and each handler in it costs every request a walk.
    let streamLimits: StreamLimits?
    var lastActivity = NIODeadline.now()
    var idleTimer: Scheduled<Void>?
    var bodyTimer: Scheduled<Void>?
    /// The response's head is out (a late timeout can no longer answer 408).
    var headWritten = false
    /// Answered here (408): the route's own answer, still to come, is dropped.
    var answeredHere = false
    /// A response is being produced (by a task, or by a hand-off viewer until its end).
    private var responding = false
    /// Whether the connection stays open after this response.
    private var keepAlive = true
    /// A streamed body's reader is behind: reads are held until it catches up.
    private var readPaused = false
    private var readHeld = false
    /// The connection closes once the response being written is out.
    private var closing = false
    private var context: ChannelHandlerContext?

    init(serving: RequestServing, connection: ConnectionFacts, streamLimits: StreamLimits? = nil) {
        self.serving = serving
        self.connection = connection
        self.streamLimits = streamLimits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarmTimers()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if streamLimits != nil {
            lastActivity = .now()
            bodyTimer?.cancel()
            bodyTimer = nil
        }
        switch unwrapInboundIn(data) {
        case .head(let head): received(head, context: context)
        case .body(let chunk): received(chunk, context: context)
        case .end: receivedEnd(context: context)
        }
    }

    func read(context: ChannelHandlerContext) {
        if readPaused {
            readHeld = true
        } else {
            if inBody { armBodyTimer(context) }
            context.read()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // A stream whose request was read and answered is closing: no idle timer for it.
        if !exchangeDone { armIdleTimer(context) }
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if answeredHere {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        if streamLimits != nil {
            lastActivity = .now()
            if case .head = unwrapOutboundIn(data) { headWritten = true }
        }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarmTimers()
        if case .streaming(let source) = phase { source.finish(ConnectionClosed()) }
        phase = .ended
        context.fireChannelInactive()
    }

    /// The request was read and its response written.
    private var exchangeDone: Bool {
        guard case .awaitingHead = phase else { return false }
        return !responding
    }

    /// Waiting for more of the request's body (what `--body-read-timeout` bounds).
    var inBody: Bool {
        switch phase {
        case .collecting, .streaming: return true
        case .awaitingHead, .discarding, .ended: return false
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .streaming(let source) = phase { source.finish(error) }
        phase = .ended
        serving.logger.trace("request stream ended", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: Request

    private func received(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        if closing { return }  // `Connection: close` was answered: nothing after it is served.
        guard case .awaitingHead = phase, !responding else {
            // Cannot happen behind the pipelining handler (HTTP/1.x) or on an HTTP/2 stream
            // (one request each); a connection that gets here is not one to go on with.
            context.close(promise: nil)
            return
        }
        keepAlive = connection.isHTTP2 || head.isKeepAlive
        let started = ContinuousClock.now
        if RequestServing.hasSmallBody(head, isHTTP2: connection.isHTTP2) {
            phase = .collecting(head, nil, started)
        } else {
            startStreaming(head, prefix: nil, started: started, context: context)
        }
    }

    private func received(_ chunk: ByteBuffer, context: ChannelHandlerContext) {
        switch phase {
        case .collecting(let head, var collected, let started):
            var chunk = chunk
            if collected == nil {
                collected = chunk
            } else {
                collected!.writeBuffer(&chunk)
            }
            if collected!.readableBytes > RequestServing.smallBody {
                // It said it was small and is not: stream it from here (the route sees all).
                startStreaming(head, prefix: collected, started: started, context: context)
            } else {
                phase = .collecting(head, collected, started)
            }
        case .streaming(let source):
            if case .stopProducing = source.yield(chunk) { readPaused = true }
        case .discarding(let discarded):
            let total = discarded + chunk.readableBytes
            if total > serving.maxBodyBytes {
                context.close(promise: nil)
            } else {
                phase = .discarding(total)
            }
        case .awaitingHead, .ended:
            break
        }
    }

    private func receivedEnd(context: ChannelHandlerContext) {
        switch phase {
        case .collecting(let head, let collected, let started):
            phase = .ended
            serve(head, body: collected.map(RequestBody.buffered) ?? .empty, started: started, context: context)
        case .streaming(let source):
            source.finish()
            phase = .ended
        case .discarding:
            phase = .ended
            if !responding { requestDone() }
        case .awaitingHead, .ended:
            break
        }
    }

    private func startStreaming(
        _ head: HTTPRequestHead,
        prefix: ByteBuffer?,
        started: ContinuousClock.Instant,
        context: ChannelHandlerContext
    ) {
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        let stream = BodyStream.makeSequence(
            elementType: ByteBuffer.self,
            failureType: (any Error).self,
            backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8),
            finishOnDeinit: false,
            delegate: BodyDemand { loop.execute { handler.value.resumeReading() } }
        )
        if let prefix { _ = stream.source.yield(prefix) }
        phase = .streaming(stream.source)
        serve(head, body: RequestBody(stream: stream.sequence), started: started, context: context)
    }

    private func resumeReading() {
        readPaused = false
        if readHeld, let context {
            readHeld = false
            context.read()
        }
    }

    // MARK: Response

    /// Routes the request: an immediate route answers here, any other runs in a task.
    private func serve(
        _ head: HTTPRequestHead,
        body: RequestBody,
        started: ContinuousClock.Instant,
        context: ChannelHandlerContext
    ) {
        var request = Request(head: head, isHTTP2: connection.isHTTP2, remoteAddress: connection.remote, body: body)
        request.clientCertificateVerified = connection.certified
        responding = true
        let exchange = Exchange(head: head, started: started, keepAlive: keepAlive, isHTTP2: connection.isHTTP2)
        switch serving.router.resolve(request) {
        case .answered(let response):
            switch response.body {
            case .empty, .buffer: write(response, of: exchange, context: context)
            case .stream, .handOff: deliverInTask(exchange, context: context) { response }
            }
        case .run(let handler, let request, let pattern):
            let router = serving.router
            deliverInTask(exchange, context: context) { await router.run(handler, on: request, pattern: pattern) }
        }
    }

    /// Produces the response in a task and delivers it from there (`RequestServing.deliver`).
    private func deliverInTask(
        _ exchange: Exchange,
        context: ChannelHandlerContext,
        _ response: @escaping @Sendable () async -> Response
    ) {
        let serving = self.serving
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let channel = context.channel
        Task { await serving.deliver(await response(), of: exchange, on: channel, handler: bound) }
    }

    /// Writes a response whose body is in memory (on the loop): head, body and end in one flush.
    func write(_ response: Response, of exchange: Exchange, context: ChannelHandlerContext? = nil) {
        guard let context = context ?? self.context else { return }
        guard !answeredHere else { return }
        let head = serving.head(of: response, for: exchange)
        headWritten = true
        lastActivity = .now()
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if case .buffer(let buffer) = response.body, exchange.head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        serving.record(response, of: exchange)
        end(context: context)
    }

    /// Ends the response being written and goes on to the next request (or closes).
    func end(context: ChannelHandlerContext? = nil) {
        guard let context = context ?? self.context, !answeredHere else { return }
        let close = !keepAlive
        closing = close
        // State first: writing the end lets NIO's pipelining handler hand over the next request
        // at once, from inside this write.
        responseDone()
        let ended = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if close {
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            ended.whenComplete { _ in loopBound.value.close(promise: nil) }
        }
    }

    /// A stream that failed midway: nothing can be said any more, the connection is cut.
    func abort() {
        responding = false
        context?.close(promise: nil)
    }

    /// The response was handed off (`Response.Body.handOff`): its writer owns the connection
    /// until `done`, then the response is ended and the connection closed. The inbound side is
    /// still read meanwhile, so a viewer's hang-up closes the channel at once.
    func handedOff(until done: EventLoopFuture<Void>) {
        guard let context else { return }
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        done.whenComplete { _ in
            loopBound.value.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in
                loopBound.value.close(promise: nil)
            }
        }
    }

    private func responseDone() {
        responding = false
        switch phase {
        case .ended:
            requestDone()
        case .streaming(let source):
            // The route did not read all of the body: drop the rest, up to the limit.
            source.finish()
            phase = .discarding(0)
            resumeReading()
        case .collecting(_, let collected, _):
            phase = .discarding(collected?.readableBytes ?? 0)
        case .awaitingHead, .discarding:
            break
        }
    }

    private func requestDone() {
        phase = .awaitingHead
        headWritten = false
    }

    /// Ends the request after a body timeout (`answeredHere` keeps the route's answer out).
    func endRequest() {
        if case .streaming(let source) = phase { source.finish(ConnectionClosed()) }
        phase = .ended
    }
}

/// One request and response, as the parts that write the response need it.
struct Exchange: Sendable {
    let head: HTTPRequestHead
    let started: ContinuousClock.Instant
    let keepAlive: Bool
    let isHTTP2: Bool
}

/// Where the requests of a connection (or an HTTP/2 stream) come from, fixed when it was set up.
struct ConnectionFacts: Sendable {
    var isHTTP2: Bool
    var remote: SocketAddress?
    /// The connection presented a client certificate that verified (mutual TLS).
    var certified: Bool
}
