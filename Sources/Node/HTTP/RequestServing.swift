import Logging
import NIOCore
import NIOHTTP1

/// What the request handlers of every connection share (immutable): the router, the node's
/// id and body limit, metrics and the logger; and the parts of serving that run in a task.
struct RequestServing: Sendable {
    let router: Router
    let nodeID: String
    /// Most bytes of an unread request body discarded to keep a connection open.
    let maxBodyBytes: Int
    let metrics: ServerMetrics
    let logger: Logger

    /// A body that announces at most this many bytes is read whole before routing: no stream,
    /// no back-pressure machinery, no hop per chunk for the JSON bodies of the API.
    static let smallBody = 64 * 1024

    /// Whether `head` announces a small body (or none): HTTP/1.x without Content-Length or
    /// Transfer-Encoding has none (RFC 9112 §6.3); an HTTP/2 request without Content-Length may
    /// still stream one, so only methods that carry none are taken as small then. A body that
    /// turns out larger than announced streams from the point it outgrows `smallBody`.
    static func hasSmallBody(_ head: HTTPRequestHead, isHTTP2: Bool) -> Bool {
        if let length = head.headers.first(name: "content-length") {
            return Int(length).map { $0 <= smallBody } ?? false
        }
        if isHTTP2 {
            switch head.method {
            case .GET, .HEAD, .DELETE, .OPTIONS: return true
            default: return false
            }
        }
        return !head.headers.contains(name: "transfer-encoding")
    }

    /// The response head as sent: the node's name on every response, `Connection: close` when
    /// the connection ends with it, and the length of a body held in memory.
    func head(of response: Response, for exchange: Exchange) -> HTTPResponseHead {
        var headers = response.headers
        headers.replaceOrAdd(name: "Qunbo-Node", value: nodeID)
        if !exchange.keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        switch response.body {
        case .empty: headers.replaceOrAdd(name: "Content-Length", value: "0")
        case .buffer(let buffer): headers.replaceOrAdd(name: "Content-Length", value: String(buffer.readableBytes))
        case .stream, .handOff: break
        }
        return HTTPResponseHead(version: exchange.head.version, status: response.status, headers: headers)
    }

    /// Counts a served request (`qunbo_http_requests_total` and its duration).
    func record(_ response: Response, of exchange: Exchange) {
        metrics.request(
            route: response.route,
            method: exchange.head.method.rawValue,
            status: Int(response.status.code),
            duration: ContinuousClock.now - exchange.started
        )
    }

    /// Writes `response` from the task that produced it. A body in memory goes back to the loop
    /// in one hop; a streamed body is written as produced (each write awaited: back-pressure);
    /// a hand-off gives the connection to its writer.
    func deliver(
        _ response: Response,
        of exchange: Exchange,
        on channel: any Channel,
        handler: NIOLoopBound<RequestHandler>
    ) async {
        let loop = channel.eventLoop
        let isHead = exchange.head.method == .HEAD
        switch response.body {
        case .empty, .buffer:
            loop.execute { handler.value.write(response, of: exchange) }
        case .stream, .handOff:
            do {
                try await channel.writeAndFlush(HTTPServerResponsePart.head(head(of: response, for: exchange))).get()
                var handedOff: EventLoopFuture<Void>?
                if !isHead {
                    let writer = writer(for: channel, exchange)
                    if case .stream(let produce) = response.body { try await produce(writer) }
                    if case .handOff(let start) = response.body { handedOff = try await start(writer) }
                }
                record(response, of: exchange)
                loop.execute { [handedOff] in
                    if let handedOff {
                        handler.value.handedOff(until: handedOff)
                    } else {
                        handler.value.end()
                    }
                }
            } catch {
                logger.trace("response stream cut", metadata: ["error": "\(error)"])
                record(response, of: exchange)
                loop.execute { handler.value.abort() }
            }
        }
    }

    private func writer(for channel: any Channel, _ exchange: Exchange) -> BodyWriter {
        BodyWriter(
            channel: channel,
            framing: exchange.isHTTP2 ? .http2Stream : .http1(version: exchange.head.version)
        )
    }
}
