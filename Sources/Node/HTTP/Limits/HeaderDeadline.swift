import NIOCore
import NIOTLS

/// The deadline for a request's header block (`--header-timeout`), counted from its first byte:
/// a client that trickles headers (slowloris) holds a connection for at most this long, however
/// often it sends a byte (each byte resets the idle timer, so that timer alone cannot catch it).
///
/// It sits on the connection's byte stream, after the protocol is known (cleartext sniffing or
/// TLS ALPN) and before the HTTP codec:
/// - HTTP/1.1: armed by the first byte of a request, disarmed when the codec has parsed the
///   head (`headReceived`, from `BodyReadDeadline` behind the codec), re-armed by the first
///   byte after that request's end. On expiry the client gets 408 `header_timeout` (unless a
///   response is being written, which raw bytes would corrupt) and the connection is closed.
/// - HTTP/2: frame headers are parsed (nothing else); armed by a HEADERS frame whose block is
///   still open at the end of the read that brought it, disarmed when the frame (or its last
///   CONTINUATION) with END_HEADERS is complete. On expiry the client gets GOAWAY
///   (`ENHANCE_YOUR_CALM`) naming the last stream whose headers arrived, and the connection is
///   closed.
final class HeaderDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Mode {
        case unknown
        case http1
        case http2
    }

    private let timeout: TimeAmount
    private let nodeID: String
    private let onExpired: @Sendable () -> Void
    private var mode = Mode.unknown
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    // HTTP/1.1
    private var awaitingHead = true
    /// Set by `BodyReadDeadline` while a response is being written on this connection.
    var responseInFlight = false

    // HTTP/2 frame walking.
    private var prefaceLeft = HTTPVersionSniffer.preface.count
    private var frameHeader: [UInt8] = []
    private var payloadLeft = 0
    private var frameType: UInt8 = 0
    private var frameFlags: UInt8 = 0
    private var frameStream: UInt32 = 0
    private var lastCompleteHeadersStream: UInt32 = 0
    /// A HEADERS frame began and its block (with CONTINUATIONs) has not ended.
    private var headersOpen = false

    init(timeout: TimeAmount, nodeID: String, onExpired: @escaping @Sendable () -> Void) {
        self.timeout = timeout
        self.nodeID = nodeID
        self.onExpired = onExpired
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        self.context = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The connection saw no traffic either way for the idle timeout (`IdleStateHandler`,
        // removed for HTTP/2, whose guard watches streams instead). Closed here rather than by a
        // handler of its own: every handler costs each idle keep-alive connection its memory.
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        if case .handshakeCompleted(let negotiated)? = event as? TLSUserEvent {
            mode = negotiated == "h2" ? .http2 : .http1
            // Over TLS the preface is not consumed by a sniffer: it is still ahead in the stream.
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = Self.unwrapInboundIn(data)
        switch mode {
        case .unknown, .http1:
            if awaitingHead && timer == nil && bytes.readableBytes > 0 { arm(context) }
        case .http2:
            walk(bytes.readableBytesView, context: context)
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    /// HTTP/1.1: the codec parsed a request head.
    func headReceived() {
        awaitingHead = false
        disarm()
    }

    /// HTTP/1.1: the request's body ended; the next bytes start a new head.
    func requestEnded() { awaitingHead = true }

    private func arm(_ context: ChannelHandlerContext) {
        guard timer == nil else { return }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: timeout) { loopBound.value.expire() }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }

    private func expire() {
        timer = nil
        guard let context else { return }
        onExpired()
        let reply: ByteBuffer?
        switch mode {
        case .unknown, .http1:
            reply = responseInFlight ? nil : Self.requestTimeout(nodeID: nodeID)
        case .http2:
            var frame = ByteBuffer()
            frame.writeBytes([0, 0, 8, 0x7, 0, 0, 0, 0, 0])
            frame.writeInteger(lastCompleteHeadersStream & 0x7FFF_FFFF)
            frame.writeInteger(UInt32(0xb))
            reply = frame
        }
        guard let reply else {
            context.close(promise: nil)
            return
        }
        context.writeAndFlush(Self.wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    /// Walks HTTP/2 frame headers in `bytes` (the stream after the sniffer: the preface may
    /// still be ahead over TLS, and is skipped).
    private func walk(_ bytes: ByteBufferView, context: ChannelHandlerContext) {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if prefaceLeft > 0 {
                let take = min(prefaceLeft, bytes.endIndex - index)
                // Cleartext h2 had its preface read by the sniffer, which forwards it too.
                prefaceLeft -= take
                index += take
                continue
            }
            if payloadLeft > 0 {
                let take = min(payloadLeft, bytes.endIndex - index)
                payloadLeft -= take
                index += take
                if payloadLeft == 0 { frameComplete() }
                continue
            }
            frameHeader.append(bytes[index])
            index += 1
            guard frameHeader.count == 9 else { continue }
            payloadLeft = Int(frameHeader[0]) << 16 | Int(frameHeader[1]) << 8 | Int(frameHeader[2])
            frameType = frameHeader[3]
            frameFlags = frameHeader[4]
            frameStream =
                (UInt32(frameHeader[5]) << 24 | UInt32(frameHeader[6]) << 16 | UInt32(frameHeader[7]) << 8
                    | UInt32(frameHeader[8])) & 0x7FFF_FFFF
            frameHeader.removeAll(keepingCapacity: true)
            if frameType == 0x1 { headersOpen = true }
            if payloadLeft == 0 { frameComplete() }
        }
        // Armed only for a block still open when this read's bytes are walked: a request whose
        // HEADERS arrived whole (nearly all) costs no timer. The clock starts at the same read.
        if headersOpen { arm(context) }
    }

    /// A whole frame (header and payload) went by.
    private func frameComplete() {
        // HEADERS (0x1) or CONTINUATION (0x9) with END_HEADERS (0x4): the block is complete.
        if frameType == 0x1 || frameType == 0x9, frameFlags & 0x4 != 0 {
            lastCompleteHeadersStream = max(lastCompleteHeadersStream, frameStream)
            headersOpen = false
            disarm()
        }
    }

    /// The HTTP/1.1 answer to headers that did not arrive in time.
    static func requestTimeout(nodeID: String) -> ByteBuffer {
        let error = APIError(.requestTimeout, "header_timeout", "the request headers did not arrive in time")
        var body = error.jsonBody()
        var out = ByteBuffer()
        out.writeString(
            "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\nContent-Length: "
                + "\(body.readableBytes)\r\nQunbo-Node: \(nodeID)\r\nConnection: close\r\n\r\n"
        )
        out.writeBuffer(&body)
        return out
    }
}
