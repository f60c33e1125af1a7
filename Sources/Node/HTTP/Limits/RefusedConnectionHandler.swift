import NIOCore

/// Answers a connection refused by `ConnectionLimiter` and closes it, without building an HTTP
/// pipeline for it.
///
/// It waits for the client's first bytes (at most `wait`): an HTTP/2 preface gets the server's
/// SETTINGS and a GOAWAY (`ENHANCE_YOUR_CALM`, last stream 0: nothing was processed, retry
/// elsewhere or later), anything else the JSON 503 `too_many_connections` with `Retry-After`.
/// A client that sends nothing is closed when `wait` passes. Over TLS nothing can be said
/// before the handshake, so the connection is closed at once (see `HTTPServer`).
final class RefusedConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let nodeID: String
    private let retryAfterSeconds: Int
    private let wait: TimeAmount
    private var answered = false
    private var timer: Scheduled<Void>?

    init(nodeID: String, retryAfterSeconds: Int = 1, wait: TimeAmount = .seconds(2)) {
        self.nodeID = nodeID
        self.retryAfterSeconds = retryAfterSeconds
        self.wait = wait
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    private func arm(_ context: ChannelHandlerContext) {
        guard timer == nil else { return }
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: wait) { loopBound.value.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        answered = true
        let bytes = Self.unwrapInboundIn(data)
        let n = min(bytes.readableBytes, HTTPVersionSniffer.preface.count)
        let isHTTP2 = n >= 3 && bytes.readableBytesView.prefix(n).elementsEqual(HTTPVersionSniffer.preface.prefix(n))
        let reply = isHTTP2 ? Self.goAway() : Self.serviceUnavailable(nodeID: nodeID, retryAfter: retryAfterSeconds)
        timer?.cancel()
        context.writeAndFlush(Self.wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// An empty SETTINGS frame, then GOAWAY(last stream 0, ENHANCE_YOUR_CALM): the server's side
    /// of an HTTP/2 connection it will not serve (RFC 9113 §6.8).
    static func goAway() -> ByteBuffer {
        var out = ByteBuffer()
        out.writeBytes([0, 0, 0, 0x4, 0, 0, 0, 0, 0])
        out.writeBytes([0, 0, 8, 0x7, 0, 0, 0, 0, 0])
        out.writeInteger(UInt32(0))
        out.writeInteger(UInt32(0xb))
        return out
    }

    /// The HTTP/1.1 answer: 503 with the API's JSON error, `Retry-After` and `Connection: close`.
    static func serviceUnavailable(nodeID: String, retryAfter: Int) -> ByteBuffer {
        let error = APIError(
            .serviceUnavailable,
            "too_many_connections",
            "this node holds as many connections as it may (in all or from your address); retry later"
        )
        var body = error.jsonBody()
        var out = ByteBuffer()
        out.writeString(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: "
                + "\(body.readableBytes)\r\nRetry-After: \(retryAfter)\r\nQunbo-Node: \(nodeID)\r\n"
                + "Connection: close\r\n\r\n"
        )
        out.writeBuffer(&body)
        return out
    }
}
