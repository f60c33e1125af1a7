import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// The reference webhook receiver (`qunbo webhooks listen`, and the tests' receiver): a small
/// HTTP/1.1 server that checks each delivery's `Qunbo-Signature` as API.md tells receivers to.
///
/// One request per connection (answered with `Connection: close`): the sender opens a fresh
/// connection per delivery anyway, and it keeps the server a loop without connection state.
public final class WebhookReceiver: Sendable {
    public struct Settings: Sendable {
        /// The secret deliveries are signed with.
        public var secret: String
        public var host: String
        /// 0: any free port (see `WebhookReceiver.port`).
        public var port: Int
        /// Largest accepted distance, in seconds, between a signature's `t` and this clock.
        public var tolerance: Int64
        /// Answer 500 to every request for this long after start, to watch a sender retry.
        public var failFor: Duration?
        /// Larger bodies are answered 413.
        public var maxBodyBytes: Int

        public init(
            secret: String,
            host: String = "127.0.0.1",
            port: Int = 0,
            tolerance: Int64 = 300,
            failFor: Duration? = nil,
            maxBodyBytes: Int = 1 << 20
        ) {
            self.secret = secret
            self.host = host
            self.port = port
            self.tolerance = tolerance
            self.failFor = failFor
            self.maxBodyBytes = maxBodyBytes
        }
    }

    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    /// The port bound (the real one when `Settings.port` was 0).
    public let port: Int
    private let serving: Task<Void, Never>

    private init(port: Int, serving: Task<Void, Never>) {
        self.port = port
        self.serving = serving
    }

    /// Binds and starts serving. `onDelivery` gets each verified body, `onRejected` the reason
    /// for each refused signature; both are called from the connection's task.
    public static func start(
        settings: Settings,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        onDelivery: @escaping @Sendable ([UInt8]) -> Void = { _ in },
        onRejected: @escaping @Sendable (String) -> Void = { _ in }
    ) async throws(ServerError) -> WebhookReceiver {
        let address = HostPort(host: settings.host, port: settings.port)
        let server: NIOAsyncChannel<Connection, Never>
        do {
            server = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .bind(host: settings.host, port: settings.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        // A client that connects and says nothing is dropped, not served forever.
                        try sync.addHandler(IdleStateHandler(allTimeout: .seconds(30)))
                        try sync.addHandler(IdleConnectionCloser())
                        try sync.configureHTTPServerPipeline(withErrorHandling: true)
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw ServerError(binding: error, at: address)
        }
        let responder = Responder(
            settings: settings,
            started: .now,
            onDelivery: onDelivery,
            onRejected: onRejected
        )
        let serving = Task<Void, Never> {
            _ = try? await server.executeThenClose { inbound in
                await withDiscardingTaskGroup { group in
                    do {
                        for try await connection in inbound {
                            group.addTask { await responder.serve(connection) }
                        }
                    } catch {}
                }
            }
        }
        return WebhookReceiver(port: server.channel.localAddress?.port ?? settings.port, serving: serving)
    }

    /// Stops listening and closes every connection (cancelling their tasks ends their reads).
    public func close() async {
        serving.cancel()
        await serving.value
    }

    /// Waits until the receiver is closed: what `qunbo webhooks listen` does until a signal.
    public func wait() async {
        await serving.value
    }
}

/// Answers the requests; separate from the receiver so the serving task needs no `self`.
private struct Responder: Sendable {
    let settings: WebhookReceiver.Settings
    let started: ContinuousClock.Instant
    let onDelivery: @Sendable ([UInt8]) -> Void
    let onRejected: @Sendable (String) -> Void

    func serve(_ connection: WebhookReceiver.Connection) async {
        try? await connection.executeThenClose { inbound, outbound in
            var parts = inbound.makeAsyncIterator()
            guard case .head(let head)? = try await parts.next() else { return }
            let body = try await readBody(head, &parts)
            let (status, json) = answer(head, body)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(json.utf8.count))
            headers.add(name: "Connection", value: "close")
            try await outbound.write(contentsOf: [
                .head(HTTPResponseHead(version: head.version, status: status, headers: headers)),
                .body(.byteBuffer(ByteBuffer(string: json))), .end(nil),
            ])
        }
    }

    /// The body, or nil when over `maxBodyBytes`. An oversized body is still read (up to eight
    /// times the limit) and dropped, so that the client sees the 413 rather than a reset.
    private func readBody(
        _ head: HTTPRequestHead,
        _ parts: inout NIOAsyncChannelInboundStream<HTTPServerRequestPart>.AsyncIterator
    ) async throws -> [UInt8]? {
        let limit = settings.maxBodyBytes
        let declared = head.headers.first(name: "content-length").flatMap { Int($0) } ?? 0
        guard declared <= limit * 8 else { return nil }
        var body: [UInt8]? = declared <= limit ? [] : nil
        var seen = 0
        while case .body(let chunk)? = try await parts.next() {
            seen += chunk.readableBytes
            if seen > limit { body = nil }
            body?.append(contentsOf: chunk.readableBytesView)
            if seen > limit * 8 { break }
        }
        return body
    }

    private func answer(_ head: HTTPRequestHead, _ body: [UInt8]?) -> (HTTPResponseStatus, String) {
        if let failFor = settings.failFor, ContinuousClock.now - started < failFor {
            let why = "failing on purpose for the first \(failFor) (--fail-for): answered 500"
            onRejected(why)
            return (.internalServerError, Self.error(why))
        }
        guard head.method == .POST else { return (.methodNotAllowed, Self.error("only POST is accepted")) }
        guard let body else {
            return (.payloadTooLarge, Self.error("body larger than \(settings.maxBodyBytes) bytes"))
        }
        do throws(WebhookSignature.Refusal) {
            try WebhookSignature.verify(
                header: head.headers.first(name: "Qunbo-Signature"),
                body: body,
                secret: settings.secret,
                now: Int64(Date().timeIntervalSince1970),
                tolerance: settings.tolerance
            )
        } catch {
            let why = reason(error)
            onRejected(why)
            return (.badRequest, Self.error(why))
        }
        onDelivery(body)
        return (.ok, #"{"ok":true}"#)
    }

    private func reason(_ refusal: WebhookSignature.Refusal) -> String {
        switch refusal {
        case .malformed: return "missing or malformed Qunbo-Signature header"
        case .mismatch: return "signature does not match the body (wrong secret or altered body)"
        case .stale(let seconds): return "signature timestamp is \(seconds) s old (tolerance \(settings.tolerance) s)"
        }
    }

    private static func error(_ message: String) -> String {
        let data = (try? JSONEncoder().encode(["error": message])) ?? Data(#"{"error":"?"}"#.utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
