import NIOCore
import NIOHTTP2

/// The per-connection limits the server's pipelines are built with (from `NodeConfig`).
struct ConnectionLimits: Sendable {
    let nodeID: String
    let maxStreams: Int
    let headerTimeout: TimeAmount
    let bodyReadTimeout: TimeAmount
    let metrics: ServerMetrics

    init(config: NodeConfig, metrics: ServerMetrics) {
        nodeID = config.id
        maxStreams = config.maxStreams
        headerTimeout = .nanoseconds(config.headerTimeout.nanoseconds)
        bodyReadTimeout = .nanoseconds(config.bodyReadTimeout.nanoseconds)
        self.metrics = metrics
    }

    func bodyDeadline(nodeID: String, header: HeaderDeadline?) -> BodyReadDeadline {
        let metrics = metrics
        return BodyReadDeadline(timeout: bodyReadTimeout, nodeID: nodeID, header: header) {
            metrics.refused("body_timeout")
        }
    }
}

/// Watches one HTTP/2 connection from behind the HTTP/2 handler:
/// - its idle time: a connection with no open stream for `idle` gets GOAWAY(`NO_ERROR`) and is
///   closed. Only streams count, so PINGs, SETTINGS and WINDOW_UPDATEs alone keep nothing open
///   (the connection-level idle timer, which every frame resets, is removed for HTTP/2; each
///   stream has its own). NIO's connection manager would do this too, but it starts its idle
///   timer on `channelActive`, which a handler added after negotiation never sees.
/// - clients that open more concurrent streams than SETTINGS allows (NIO answers GOAWAY
///   `PROTOCOL_ERROR`, RFC 9113 §5.1.2): counted in `qunbo_http_refused_total{reason="max_streams"}`.
final class HTTP2ConnectionGuard: ChannelInboundHandler {
    typealias InboundIn = Any
    typealias OutboundOut = HTTP2Frame

    private let metrics: ServerMetrics
    private let idle: TimeAmount
    private var openStreams = 0
    private var lastStream = HTTP2StreamID.rootStream
    /// When the connection last had no stream open.
    private var idleSince = NIODeadline.now()
    private var timer: Scheduled<Void>?
    private weak var context: ChannelHandlerContext?

    init(metrics: ServerMetrics, idle: TimeAmount) {
        self.metrics = metrics
        self.idle = idle
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        idleSince = .now()
        arm(context, in: idle)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    /// A stream of this connection opened (`StreamDelegate`, called by the HTTP/2 handler
    /// itself: `NIOHTTP2StreamCreatedEvent`s do not reach a handler after the async
    /// multiplexer's connection manager, so a guard counting them saw no stream at all and
    /// closed every connection `idle` after it opened, mid-request).
    ///
    /// One timer, re-armed at expiry for what is left, rather than cancelled when a stream opens
    /// and scheduled again when the last one closes: a busy connection drops to no open stream
    /// between every batch of requests.
    func streamOpened(_ id: HTTP2StreamID) {
        openStreams += 1
        lastStream = max(lastStream, id)
    }

    /// A stream counted by `streamOpened` closed.
    func streamClosed() {
        openStreams = max(0, openStreams - 1)
        guard openStreams == 0 else { return }
        idleSince = .now()
        if let context { arm(context, in: idle) }
    }

    /// Tells the guard and NIO's connection manager (graceful shutdown) of every stream, on the
    /// connection's event loop.
    struct StreamDelegate: NIOHTTP2StreamDelegate {
        let guarded: NIOLoopBound<HTTP2ConnectionGuard>
        let manager: NIOHTTP2ServerConnectionManagementHandler.HTTP2StreamDelegate

        func streamCreated(_ id: HTTP2StreamID, channel: any Channel) {
            guarded.value.streamOpened(id)
            manager.streamCreated(id, channel: channel)
        }

        func streamClosed(_ id: HTTP2StreamID, channel: any Channel) {
            guarded.value.streamClosed()
            manager.streamClosed(id, channel: channel)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is NIOHTTP2Errors.MaxStreamsViolation { metrics.refused("max_streams") }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    private func arm(_ context: ChannelHandlerContext, in delay: TimeAmount) {
        guard timer == nil else { return }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: delay) { loopBound.value.expire() }
    }

    private func expire() {
        timer = nil
        // Streams are open: the last one to close arms the timer again.
        guard let context, openStreams == 0 else { return }
        let idleFor = NIODeadline.now() - idleSince
        guard idleFor >= idle else {
            arm(context, in: idle - idleFor)
            return
        }
        let goAway = HTTP2Frame(
            streamID: .rootStream,
            payload: .goAway(lastStreamID: lastStream, errorCode: .noError, opaqueData: nil)
        )
        context.writeAndFlush(Self.wrapOutboundOut(goAway)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
