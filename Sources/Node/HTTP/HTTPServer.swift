import Logging
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import NIOTLS
import ServiceLifecycle
import Synchronization

/// Why the server could not start. Rendered as one line on stderr by the CLI.
public enum ServerError: Error, CustomStringConvertible, Sendable {
    case addressInUse(HostPort)
    case cannotBind(HostPort, String)
    case tls(String)
    case storage(String)

    public var description: String {
        switch self {
        case .addressInUse(let hp): return "cannot listen on \(hp): address already in use"
        case .cannotBind(let hp, let reason): return "cannot listen on \(hp): \(reason)"
        case .tls(let reason): return "cannot load TLS material: \(reason)"
        case .storage(let reason): return "cannot open the data dir: \(reason)"
        }
    }
}

extension ServerError {
    /// What a failed `bind` means for the operator.
    init(binding error: any Error, at address: HostPort) {
        if let error = error as? IOError, error.errnoCode == EADDRINUSE {
            self = .addressInUse(address)
        } else {
            self = .cannotBind(address, "\(error)")
        }
    }
}

typealias HTTPStreamChannel = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

/// A channel's async inbound and outbound without `executeThenClose`'s scope, which closes the
/// channel when its body returns. The server needs that once: a response handed off to a
/// `DirectViewer` outlives the task that served its request (see `Response.Body.handOff`), and
/// the server closes every other connection itself, as the scope would. NIO marks the unscoped
/// accessors deprecated to steer users to the scope; reaching them through this protocol's
/// witnesses is deliberate.
protocol UnscopedAsyncChannel {
    associatedtype Inbound: Sendable
    associatedtype Outbound: Sendable
    var inbound: NIOAsyncChannelInboundStream<Inbound> { get }
    var outbound: NIOAsyncChannelOutboundWriter<Outbound> { get }
}

extension NIOAsyncChannel: UnscopedAsyncChannel {}

extension UnscopedAsyncChannel {
    var unscopedParts: (NIOAsyncChannelInboundStream<Inbound>, NIOAsyncChannelOutboundWriter<Outbound>) {
        (inbound, outbound)
    }
}

/// What protocol negotiation produced for one accepted connection.
enum NegotiatedConnection: Sendable {
    case http1(HTTPStreamChannel)
    case http2(any Channel, NIOHTTP2Handler.AsyncStreamMultiplexer<HTTPStreamChannel>)
}

/// The node's one listening port: HTTP/1.1 and HTTP/2 (h2c by prior knowledge, or TLS + ALPN),
/// run as a `Service`. On graceful shutdown it stops accepting, lets HTTP/1.1 connections finish
/// their current request and sends HTTP/2 GOAWAY; what is still open when the service group's
/// shutdown deadline passes is cancelled, which closes it.
public final class HTTPServer: Service, Sendable {
    private let config: NodeConfig
    private let router: Router
    private let metrics: ServerMetrics
    private let logger: Logger
    private let group: any EventLoopGroup
    private let onBound: @Sendable (SocketAddress) -> Void

    private let limiter: ConnectionLimiter
    static let idleHandlerName = "qunbo.idle"
    static let idleCloserName = "qunbo.idle-closer"

    private struct Bound: Sendable {
        var channel: NIOAsyncChannel<EventLoopFuture<NegotiatedConnection>, Never>
        var quiesce: ServerQuiescingHelper
        var tls: Bool
    }
    private let bound = Mutex<Bound?>(nil)

    public init(
        config: NodeConfig,
        router: Router,
        metrics: ServerMetrics,
        logger: Logger,
        group: any EventLoopGroup,
        onBound: @escaping @Sendable (SocketAddress) -> Void = { _ in }
    ) {
        self.config = config
        self.router = router
        self.metrics = metrics
        self.logger = logger
        self.group = group
        self.onBound = onBound
        self.limiter = ConnectionLimiter(maxConnections: config.maxConnections, maxPerIP: config.maxConnectionsPerIP)
    }

    /// Binds the port. Called before any other service starts, so that a taken port or bad
    /// TLS material stops the node before it joins a cluster or logs anything else.
    public func bind() async throws {
        let sslContext = try makeSSLContext()
        let quiesce = ServerQuiescingHelper(group: group)
        let serverChannel = try await bind(sslContext: sslContext, quiesce: quiesce)
        bound.withLock { $0 = Bound(channel: serverChannel, quiesce: quiesce, tls: sslContext != nil) }
    }

    public func run() async throws {
        if bound.withLock({ $0 }) == nil { try await bind() }
        guard let bound = bound.withLock({ $0 }) else { return }
        let serverChannel = bound.channel
        if let address = serverChannel.channel.localAddress { onBound(address) }
        logger.info(
            "listening",
            metadata: [
                "http.address": "\(config.listen)", "http.tls": "\(bound.tls)",
                "node.advertise": "\(config.advertisedURL)",
            ]
        )
        await withDiscardingTaskGroup { group in
            await withGracefulShutdownHandler {
                do {
                    try await serverChannel.executeThenClose { inbound in
                        for try await negotiated in inbound {
                            group.addTask { await self.serve(negotiated) }
                        }
                    }
                } catch {
                    logger.debug("accept loop ended", metadata: ["error": "\(error)"])
                }
            } onGracefulShutdown: {
                self.logger.info("shutting down: no longer accepting, finishing in-flight requests")
                bound.quiesce.initiateShutdown(promise: nil)
            }
        }
        logger.info("all connections closed")
    }

    /// Whether the TLS connection on `channel` presented a client certificate that verified.
    /// Only the server's `optionalVerification` (mutual TLS configured) asks for one, and then a
    /// presented certificate that does not verify fails the handshake, so any certificate
    /// recorded here verified against `--peer-ca`.
    private static func clientCertificateVerified(_ channel: any Channel) async -> Bool {
        let submitted = channel.eventLoop.submit {
            (try? channel.pipeline.syncOperations.nioSSL_peerCertificate()) != nil
        }
        return (try? await submitted.get()) ?? false
    }

    private func makeSSLContext() throws -> NIOSSLContext? {
        guard let certPath = config.tlsCert, let keyPath = config.tlsKey else { return nil }
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certPath).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
            var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            tls.applicationProtocols = ["h2", "http/1.1"]
            // Mutual TLS between nodes: ask every client for a certificate but do not require
            // one (browsers and apps have none); one presented must verify against --peer-ca.
            // `PeerGate` then refuses peer requests on connections without one.
            if config.mutualTLS, let ca = config.peerCA {
                tls.certificateVerification = .optionalVerification
                tls.trustRoots = .file(ca)
            }
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw ServerError.tls("\(certPath), \(keyPath): \(error)")
        }
    }

    private func bind(
        sslContext: NIOSSLContext?,
        quiesce: ServerQuiescingHelper
    ) async throws -> NIOAsyncChannel<EventLoopFuture<NegotiatedConnection>, Never> {
        let idle = TimeAmount.nanoseconds(config.idleTimeout.nanoseconds)
        let graceTime = TimeAmount.nanoseconds(config.shutdownTimeout.nanoseconds)
        let nodeID = config.id
        let limits = ConnectionLimits(config: config, metrics: metrics)
        let limiter = self.limiter
        let metrics = self.metrics
        let logger = self.logger
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
        do {
            return try await bootstrap.bind(host: config.listen.host, port: config.listen.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    let ip = ConnectionLimiter.key(of: channel.remoteAddress)
                    if let refusal = limiter.admit(ip) {
                        // Refused before any HTTP handler exists: the answer is a few fixed bytes.
                        metrics.refused(refusal.rawValue)
                        logger.debug("connection refused", metadata: ["reason": "\(refusal.rawValue)", "ip": "\(ip)"])
                        if sslContext == nil {
                            try sync.addHandler(RefusedConnectionHandler(nodeID: nodeID))
                        } else {
                            channel.close(promise: nil)
                        }
                        return channel.eventLoop.makeFailedFuture(ConnectionRefusedByLimit(reason: refusal))
                    }
                    channel.closeFuture.whenComplete { _ in limiter.release(ip) }
                    try sync.addHandler(IdleStateHandler(allTimeout: idle), name: Self.idleHandlerName)
                    try sync.addHandler(IdleConnectionCloser(), name: Self.idleCloserName)
                    if let sslContext {
                        try sync.addHandler(NIOSSLServerHandler(context: sslContext))
                    } else {
                        try sync.addHandler(HTTPVersionSniffer())
                    }
                    let headerDeadline = HeaderDeadline(timeout: limits.headerTimeout, nodeID: nodeID) {
                        metrics.refused("header_timeout")
                    }
                    try sync.addHandler(headerDeadline)
                    let negotiation = NIOTypedApplicationProtocolNegotiationHandler<NegotiatedConnection> {
                        result,
                        channel in
                        channel.eventLoop.makeCompletedFuture {
                            switch result {
                            case .negotiated("h2"):
                                return try Self.configureHTTP2(
                                    channel,
                                    idle: idle,
                                    graceTime: graceTime,
                                    limits: limits
                                )
                            default:
                                return try Self.configureHTTP1(
                                    channel,
                                    nodeID: nodeID,
                                    limits: limits,
                                    headerDeadline: headerDeadline
                                )
                            }
                        }
                    }
                    try sync.addHandler(negotiation)
                    return negotiation.protocolNegotiationResult
                }
            }
        } catch {
            throw ServerError(binding: error, at: config.listen)
        }
    }

    private static func configureHTTP1(
        _ channel: any Channel,
        nodeID: String,
        limits: ConnectionLimits,
        headerDeadline: HeaderDeadline
    ) throws -> NegotiatedConnection {
        let sync = channel.pipeline.syncOperations
        try sync.configureHTTPServerPipeline(withErrorHandling: false)
        try sync.addHandler(HTTP1ErrorResponder(nodeID: nodeID))
        try sync.addHandler(limits.bodyDeadline(nodeID: nodeID, header: headerDeadline))
        return .http1(try HTTPStreamChannel(wrappingChannelSynchronously: channel))
    }

    private static func configureHTTP2(
        _ channel: any Channel,
        idle: TimeAmount,
        graceTime: TimeAmount,
        limits: ConnectionLimits
    ) throws -> NegotiatedConnection {
        // The connection's idle timer would be reset by any frame, PINGs included: a client
        // could hold half-open streams forever by pinging. Instead `HTTP2ConnectionGuard` closes
        // a connection without streams after `idle`, and each stream has its own idle timer,
        // which only that stream's frames reset.
        let sync = channel.pipeline.syncOperations
        sync.removeHandler(name: idleHandlerName, promise: nil)
        sync.removeHandler(name: idleCloserName, promise: nil)
        var settings = NIOHTTP2Handler.Configuration()
        settings.connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: limits.maxStreams),
            HTTP2Setting(parameter: .maxHeaderListSize, value: 16 * 1024),
            HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20),
        ]
        settings.connection.maximumRecentlyResetStreams = 64
        let manager = NIOHTTP2ServerConnectionManagementHandler.Configuration(
            maxIdleTime: idle,
            maxAge: nil,
            maxGraceTime: graceTime,
            keepalive: nil
        )
        let guardHandler = HTTP2ConnectionGuard(metrics: limits.metrics, idle: idle)
        let counted = NIOLoopBound(guardHandler, eventLoop: channel.eventLoop)
        let multiplexer = try channel.pipeline.syncOperations.configureAsyncHTTP2Pipeline(
            mode: .server,
            connectionManagerConfiguration: manager,
            http2HandlerConfiguration: settings
        ) { stream in
            stream.eventLoop.makeCompletedFuture {
                // Stream channels run on their connection's event loop.
                counted.value.streamOpened()
                stream.closeFuture.whenComplete { _ in counted.value.streamClosed() }
                let streamSync = stream.pipeline.syncOperations
                try streamSync.addHandler(StreamIdleCloser(timeout: idle))
                try streamSync.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                try streamSync.addHandler(limits.bodyDeadline(nodeID: limits.nodeID, header: nil))
                return try HTTPStreamChannel(wrappingChannelSynchronously: stream)
            }
        }
        try sync.addHandler(guardHandler)
        return .http2(channel, multiplexer)
    }

    /// Serves one accepted connection until it closes.
    private func serve(_ negotiated: EventLoopFuture<NegotiatedConnection>) async {
        let connection: NegotiatedConnection
        do {
            connection = try await negotiated.get()
        } catch {
            logger.debug("connection failed before negotiation", metadata: ["error": "\(error)"])
            return
        }
        switch connection {
        case .http1(let channel):
            metrics.connectionOpened("http1")
            defer { metrics.connectionClosed("http1") }
            let certified = await Self.clientCertificateVerified(channel.channel)
            await serveRequests(on: channel, isHTTP2: false, certified: certified)
        case .http2(let channel, let multiplexer):
            metrics.connectionOpened("http2")
            defer { metrics.connectionClosed("http2") }
            let certified = await Self.clientCertificateVerified(channel)
            do {
                try await withThrowingDiscardingTaskGroup { group in
                    for try await stream in multiplexer.inbound {
                        group.addTask { await self.serveRequests(on: stream, isHTTP2: true, certified: certified) }
                    }
                }
            } catch {
                logger.debug("http2 connection ended", metadata: ["error": "\(error)"])
            }
            try? await channel.close()
        }
    }

    /// Serves the requests of one HTTP/1.1 connection (in order) or of one HTTP/2 stream, and
    /// closes it after, unless a response handed it off (`Response.Body.handOff`): then its
    /// writer owns it and closes it when done.
    private func serveRequests(on stream: HTTPStreamChannel, isHTTP2: Bool, certified: Bool) async {
        let channel = stream.channel
        let remote = channel.remoteAddress ?? channel.parent?.remoteAddress
        let (inbound, outbound) = stream.unscopedParts
        do {
            let body = RequestBody(iterator: inbound.makeAsyncIterator())
            while let head = try await body.nextHead() {
                let started = ContinuousClock.now
                var request = Request(head: head, isHTTP2: isHTTP2, remoteAddress: remote, body: body)
                request.clientCertificateVerified = certified
                var response = await router.respond(to: request)
                let keepAlive = isHTTP2 || head.isKeepAlive
                response.headers.replaceOrAdd(name: "Qunbo-Node", value: config.id)
                if !isHTTP2 && !keepAlive { response.headers.replaceOrAdd(name: "Connection", value: "close") }
                let status = response.status.code
                let handedOff = try await write(
                    response,
                    to: outbound,
                    channel: channel,
                    version: head.version,
                    isHTTP2: isHTTP2,
                    isHead: head.method == .HEAD
                )
                metrics.request(
                    route: response.route,
                    method: head.method.rawValue,
                    status: Int(status),
                    duration: ContinuousClock.now - started
                )
                if let done = handedOff {
                    // From here on writes come from the channel's side. The async writer must be
                    // finished before it is dropped (NIO traps otherwise); with half-closure off
                    // that closes nothing.
                    outbound.finish()
                    // At its end the response is ended and the connection closed, from the
                    // channel's side (this task is gone by then). The inbound stream stays alive
                    // until then, unread: were it dropped, NIO would stop reading the socket, and
                    // a viewer that hangs up would go unseen until a write failed. Read on, the
                    // hang-up closes the channel at once.
                    done.whenComplete { _ in
                        withExtendedLifetime(body) {
                            channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { _ in
                                channel.close(promise: nil)
                            }
                        }
                    }
                    return
                }
                guard keepAlive, try await body.drain(limit: config.maxBodyBytes) else { break }
            }
        } catch {
            logger.trace("request stream ended", metadata: ["error": "\(error)"])
        }
        // What `executeThenClose` does at the end of its scope.
        outbound.finish()
        channel.close(promise: nil)
        try? await channel.closeFuture.get()
    }

    /// Writes `response`; when it was handed off (the connection is its writer's now), returns
    /// the future of its end, at which the caller ends the response and closes the connection.
    private func write(
        _ response: Response,
        to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
        channel: any Channel,
        version: HTTPVersion,
        isHTTP2: Bool,
        isHead: Bool
    ) async throws -> EventLoopFuture<Void>? {
        var headers = response.headers
        let writer = BodyWriter(
            outbound: outbound,
            channel: channel,
            framing: isHTTP2 ? .http2Stream : .http1(version: version)
        )
        switch response.body {
        case .empty:
            headers.replaceOrAdd(name: "Content-Length", value: "0")
            // One write call for the whole response: each call is a hop to the event loop.
            try await outbound.write(contentsOf: [
                .head(HTTPResponseHead(version: version, status: response.status, headers: headers)), .end(nil),
            ])
        case .buffer(let buffer):
            headers.replaceOrAdd(name: "Content-Length", value: String(buffer.readableBytes))
            let head = HTTPServerResponsePart.head(
                HTTPResponseHead(version: version, status: response.status, headers: headers)
            )
            try await outbound.write(
                contentsOf: isHead ? [head, .end(nil)] : [head, .body(.byteBuffer(buffer)), .end(nil)]
            )
        case .stream(let produce):
            try await outbound.write(
                .head(HTTPResponseHead(version: version, status: response.status, headers: headers))
            )
            if !isHead { try await produce(writer) }
            try await outbound.write(.end(nil))
        case .handOff(let start):
            try await outbound.write(
                .head(HTTPResponseHead(version: version, status: response.status, headers: headers))
            )
            if isHead {
                try await outbound.write(.end(nil))
                return nil
            }
            return try await start(writer)
        }
        return nil
    }
}
