import NIOCore
import NIOHTTP1

/// Injects the configured faults (`FaultInjector`, `--fault-injection` only) into one link
/// stream to `node`, as a channel handler on the stream itself: the chaos runs exercise the same
/// write path production uses (`LinkQueue.DirectSink` writing straight to the stream), with the
/// faults applied below it.
///
/// A lost frame closes the stream (the link reconnects and the replication protocol resends, as
/// after a real loss on a TCP connection that breaks); a delayed frame is written later, and every
/// frame after it waits its turn, so frames never overtake each other.
final class FaultInjectionHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private let faults: FaultInjector
    private let node: String
    /// When the last delayed write goes out: later writes go no earlier.
    private var releaseAt: NIODeadline = .uptimeNanoseconds(0)
    private var pending = 0

    init(faults: FaultInjector, node: String) {
        self.faults = faults
        self.node = node
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .body = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        let delay: Duration
        switch faults.verdict(node: node) {
        case .drop:
            promise?.fail(ChannelError.ioOnClosedChannel)
            context.close(promise: nil)
            return
        case .deliver(let after):
            delay = after
        }
        guard delay > .zero || pending > 0 else {
            context.write(data, promise: promise)
            return
        }
        let nanos = Int64(delay.components.seconds) * 1_000_000_000 + Int64(delay.components.attoseconds / 1_000_000_000)
        releaseAt = max(releaseAt, context.eventLoop.now + .nanoseconds(nanos))
        pending += 1
        let loopBound = NIOLoopBound((self, context, data), eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(deadline: releaseAt) {
            let (handler, context, data) = loopBound.value
            handler.pending -= 1
            context.writeAndFlush(data, promise: promise)
        }
    }

    func flush(context: ChannelHandlerContext) {
        context.flush()
    }
}
