import NIOCore
import NIOHTTP1

/// The deadline for each read of a request body (`--body-read-timeout`): once the server asks
/// the connection for more of a body, bytes must come within the timeout. A client that stops
/// sending mid-body (or sends a byte now and then, slower than that) no longer holds a
/// connection or an HTTP/2 stream.
///
/// The clock runs only while the server is waiting: it is armed when a `read` passes outwards
/// during a body and disarmed by any inbound part. A route that is busy and reads nothing has no
/// `read` in flight (`RequestHandler` holds reads back while its body buffer is full), so the
/// server's own back-pressure never counts against the client.
///
/// On expiry the request is answered 408 `body_timeout` if no response was started for it, and
/// the channel is closed (the HTTP/1.1 connection, or the one HTTP/2 stream: RST_STREAM).
///
/// On HTTP/1.1 it also tells the connection's `HeaderDeadline` where requests begin and end,
/// and whether a response is being written.
final class BodyReadDeadline: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let timeout: TimeAmount
    private let nodeID: String
    private let onExpired: @Sendable () -> Void
    private let header: HeaderDeadline?
    private var inBody = false
    private var responded = false
    private var version = HTTPVersion.http1_1
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?
    /// Set once this handler answered the request itself: the route's own answer, still to come
    /// (it fails reading the body as the channel closes), is dropped. Two responses to one
    /// request trip NIO's HTTP/1.1 pipeline handler, which traps.
    private var answeredHere = false

    init(timeout: TimeAmount, nodeID: String, header: HeaderDeadline?, onExpired: @escaping @Sendable () -> Void) {
        self.timeout = timeout
        self.nodeID = nodeID
        self.header = header
        self.onExpired = onExpired
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        disarm()
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            inBody = true
            responded = false
            version = head.version
            header?.headReceived()
        case .body:
            break
        case .end:
            inBody = false
            header?.requestEnded()
        }
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        if inBody && timer == nil {
            let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
            timer = context.eventLoop.scheduleTask(in: timeout) { loopBound.value.expire() }
        }
        context.read()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if answeredHere {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        switch Self.unwrapOutboundIn(data) {
        case .head:
            responded = true
            header?.responseInFlight = true
        case .end:
            header?.responseInFlight = false
        case .body:
            break
        }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }

    private func expire() {
        timer = nil
        guard let context, inBody else { return }
        onExpired()
        inBody = false
        guard !responded else {
            context.close(promise: nil)
            return
        }
        responded = true
        answeredHere = true
        let (head, body) = Self.timeoutResponse(version: version, nodeID: nodeID)
        context.write(Self.wrapOutboundOut(.head(head)), promise: nil)
        context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}

extension BodyReadDeadline {
    /// The 408 `body_timeout` answer (HTTP/1.x adds `Connection: close`: the connection ends).
    static func timeoutResponse(version: HTTPVersion, nodeID: String) -> (HTTPResponseHead, ByteBuffer) {
        let body = APIError(.requestTimeout, "body_timeout", "the request body stopped arriving").jsonBody()
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "Qunbo-Node", value: nodeID)
        if version.major < 2 { headers.add(name: "Connection", value: "close") }
        return (HTTPResponseHead(version: version, status: .requestTimeout, headers: headers), body)
    }
}
