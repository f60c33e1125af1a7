import NIOCore
import NIOTLS

/// Chooses HTTP/2 or HTTP/1.1 on a cleartext connection by looking at its first bytes.
///
/// HTTP/2 by prior knowledge (h2c, RFC 9113 §3.3) begins with a fixed 24-byte preface; any other
/// first bytes are HTTP/1.1. The choice is announced as the same `TLSUserEvent` that TLS+ALPN
/// produces, so one `NIOTypedApplicationProtocolNegotiationHandler` configures the pipeline for
/// both cleartext and TLS connections. A client that sends part of the preface and stalls is left
/// to the idle timeout; it holds at most 24 buffered bytes.
final class HTTPVersionSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    private var buffered: ByteBuffer?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = Self.unwrapInboundIn(data)
        if var pending = buffered {
            pending.writeBuffer(&incoming)
            buffered = pending
        } else {
            buffered = incoming
        }
        let view = buffered!.readableBytesView
        let n = min(view.count, Self.preface.count)
        if !view.prefix(n).elementsEqual(Self.preface.prefix(n)) {
            decide(context: context, protocol: "http/1.1")
        } else if n == Self.preface.count {
            decide(context: context, protocol: "h2")
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // A connection that has not spoken yet has nothing in flight: close it on shutdown.
        if event is ChannelShouldQuiesceEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func decide(context: ChannelHandlerContext, protocol name: String) {
        context.fireUserInboundEventTriggered(TLSUserEvent.handshakeCompleted(negotiatedProtocol: name))
        if let bytes = buffered {
            buffered = nil
            context.fireChannelRead(Self.wrapInboundOut(bytes))
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

/// Closes a connection that saw no traffic in either direction for the idle timeout
/// (an `IdleStateHandler` in front of it raises the event).
final class IdleConnectionCloser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
