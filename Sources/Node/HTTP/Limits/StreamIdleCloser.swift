import NIOCore

/// Closes an HTTP/2 stream after `timeout` with neither a read nor a write on it
/// (`--idle-timeout`): half-open streams no longer last for ever while PINGs keep their
/// connection busy.
///
/// Every `channelRead` and every `write` counts as activity (NIO's `IdleStateHandler`, used here
/// before, counts a read only at `channelReadComplete`), and one timer per stream is re-armed for
/// what is left, rather than one per read or write. A long upload (an ingest streamed for hours)
/// is never idle while its bytes flow.
final class StreamIdleCloser: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias InboundOut = NIOAny
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private let timeout: TimeAmount
    private var lastActivity = NIODeadline.now()
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        lastActivity = .now()
        if context.channel.isActive { arm(context, in: timeout) }
    }

    func channelActive(context: ChannelHandlerContext) {
        lastActivity = .now()
        arm(context, in: timeout)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { disarm() }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = .now()
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        lastActivity = .now()
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext, in delay: TimeAmount) {
        guard timer == nil else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = loopBound.value
            handler.expire(context)
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }

    /// One timer per stream, re-armed for what is left of the timeout since the last activity,
    /// rather than one per read or write.
    private func expire(_ context: ChannelHandlerContext) {
        timer = nil
        let idleFor = NIODeadline.now() - lastActivity
        if idleFor >= timeout {
            context.close(promise: nil)
        } else {
            arm(context, in: timeout - idleFor)
        }
    }
}
