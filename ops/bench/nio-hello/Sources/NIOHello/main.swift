import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix

/// Answers every request with a fixed 200 (`{"status":"ok"}`), as NIO's own HTTP/2 server
/// example does: one handler per stream (HTTP/2) or per connection (HTTP/1.1), no tasks, no
/// routing, no metrics. Usage: NIOHello PORT
final class HelloHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private static let body = ByteBuffer(string: "{\"status\":\"ok\"}\n")
    private var keepAlive = true
    private var version = HTTPVersion.http1_1

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            keepAlive = head.isKeepAlive
            version = head.version
        case .body:
            break
        case .end:
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(Self.body.readableBytes))
            context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: version, status: .ok, headers: headers))),
                promise: nil
            )
            context.write(wrapOutboundOut(.body(.byteBuffer(Self.body))), promise: nil)
            let keepAlive = self.keepAlive
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                if !keepAlive { context.close(promise: nil) }
            }
        }
    }
}

/// Picks HTTP/2 when the first bytes are the h2c preface, HTTP/1.1 otherwise.
final class Sniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    private var buffered: ByteBuffer?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffered == nil { buffered = incoming } else { buffered!.writeBuffer(&incoming) }
        let view = buffered!.readableBytesView
        let n = min(view.count, Self.preface.count)
        if !view.prefix(n).elementsEqual(Self.preface.prefix(n)) {
            configure(context: context, http2: false)
        } else if n == Self.preface.count {
            configure(context: context, http2: true)
        }
    }

    private func configure(context: ChannelHandlerContext, http2: Bool) {
        let channel = context.channel
        let sync = channel.pipeline.syncOperations
        if http2 {
            _ = try! sync.configureHTTP2Pipeline(
                mode: .server,
                connectionConfiguration: .init(),
                streamConfiguration: .init()
            ) { stream in
                stream.eventLoop.makeCompletedFuture {
                    try stream.pipeline.syncOperations.addHandlers([
                        HTTP2FramePayloadToHTTP1ServerCodec(), HelloHandler(),
                    ])
                }
            }
        } else {
            try! sync.configureHTTPServerPipeline(withErrorHandling: true)
            try! sync.addHandler(HelloHandler())
        }
        let bytes = buffered!
        buffered = nil
        context.fireChannelRead(wrapInboundOut(bytes))
        sync.removeHandler(context: context, promise: nil)
    }
}

let port = Int(CommandLine.arguments.dropFirst().first ?? "8080") ?? 8080
let group = MultiThreadedEventLoopGroup.singleton
let channel = try ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Sniffer()) }
    }
    .bind(host: "127.0.0.1", port: port).wait()
print("listening on \(channel.localAddress!)")
try channel.closeFuture.wait()
