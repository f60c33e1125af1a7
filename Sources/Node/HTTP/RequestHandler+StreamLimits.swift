import NIOCore
import NIOHTTP1

/// The limits of one HTTP/2 stream, enforced by its `RequestHandler`.
struct StreamLimits: Sendable {
    /// Closes the stream after this long with neither a read nor a write on it
    /// (`--idle-timeout`): half-open streams do not last for ever while PINGs keep their
    /// connection busy.
    var idle: TimeAmount
    /// Once the server asks for more of a body, bytes must come within this
    /// (`--body-read-timeout`); then the stream is answered 408 (or reset, if its response
    /// began).
    var bodyRead: TimeAmount
    /// Counts a body timeout.
    var onBodyTimeout: @Sendable () -> Void
}

/// The stream's timers. Each is armed only while it could fire: the idle timer at the end of
/// the stream's first read cycle (a GET answered from memory is closed by then and never costs
/// one), re-armed for what is left of the timeout since the last activity rather than once per
/// read or write; the body timer while a `read` for more of a body is out (the server's own
/// back-pressure, with no read out, never counts against the client).
extension RequestHandler {
    func armIdleTimer(_ context: ChannelHandlerContext) {
        guard let limits = streamLimits, idleTimer == nil, context.channel.isActive else { return }
        schedule(in: limits.idle, context)
    }

    private func schedule(in delay: TimeAmount, _ context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        idleTimer = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = bound.value
            handler.idleTimerFired(context)
        }
    }

    private func idleTimerFired(_ context: ChannelHandlerContext) {
        idleTimer = nil
        guard let limits = streamLimits else { return }
        let idleFor = NIODeadline.now() - lastActivity
        if idleFor >= limits.idle {
            context.close(promise: nil)
        } else {
            schedule(in: limits.idle - idleFor, context)
        }
    }

    func armBodyTimer(_ context: ChannelHandlerContext) {
        guard let limits = streamLimits, bodyTimer == nil else { return }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        bodyTimer = context.eventLoop.scheduleTask(in: limits.bodyRead) {
            let (handler, context) = bound.value
            handler.bodyTimerFired(context)
        }
    }

    func disarmTimers() {
        idleTimer?.cancel()
        idleTimer = nil
        bodyTimer?.cancel()
        bodyTimer = nil
    }

    /// The body stopped arriving: 408 `body_timeout` if no response began, and the stream is
    /// closed (RST_STREAM).
    private func bodyTimerFired(_ context: ChannelHandlerContext) {
        bodyTimer = nil
        guard let limits = streamLimits, inBody else { return }
        limits.onBodyTimeout()
        endRequest()
        guard !headWritten else {
            context.close(promise: nil)
            return
        }
        answeredHere = true
        let (head, body) = BodyReadDeadline.timeoutResponse(version: .http2, nodeID: serving.nodeID)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
    }
}
