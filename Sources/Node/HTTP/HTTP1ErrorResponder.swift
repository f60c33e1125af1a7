import NIOCore
import NIOHTTP1

/// Answers an unparseable HTTP/1.1 request with the API's JSON error (400, or 431 for a header
/// block over the limit) carrying `Qunbo-Node`, then lets the decoder close the connection.
///
/// NIO's own `HTTPServerProtocolErrorHandler` does the same with an empty body; this one keeps
/// the contract that every response names its node and every error is JSON.
final class HTTP1ErrorResponder: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let nodeID: String
    private var responseInProgress = false
    /// Set once this handler answered an error itself: the route serving the same request (an
    /// ingest whose client vanished mid-body, so the decoder saw an unexpected end) may still
    /// answer, and a second response would trap NIO's HTTP/1.1 pipeline handler. It is dropped.
    private var answered = false

    init(nodeID: String) {
        self.nodeID = nodeID
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        if !responseInProgress && !answered {
            answered = true
            let apiError: APIError =
                parserError == .headerOverflow
                ? APIError(.requestHeaderFieldsTooLarge, "headers_too_large", "the request header block is too large")
                : APIError(.badRequest, "bad_request", "malformed HTTP/1.1 request")
            let body = apiError.jsonBody()
            var headers = HTTPHeaders()
            headers.add(name: "Qunbo-Node", value: nodeID)
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(body.readableBytes))
            headers.add(name: "Connection", value: "close")
            context.write(
                Self.wrapOutboundOut(.head(.init(version: .http1_1, status: apiError.status, headers: headers))),
                promise: nil
            )
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
        }
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !answered else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        switch Self.unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200 || head.status.code == 101: responseInProgress = true
        case .end: responseInProgress = false
        default: break
        }
        context.write(data, promise: promise)
    }
}
