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

    private struct Bound: Sendable {
        var channel: any Channel
        var quiesce: ServerQuiescingHelper
        var tls: Bool
    }
    private let bound = Mutex<Bound?>(nil)
    /// Every open connection, to close what graceful shutdown left open when its time is up.
    private let connections = OpenConnections()

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
        if let address = serverChannel.localAddress { onBound(address) }
        logger.info(
            "listening",
            metadata: [
                "http.address": "\(config.listen)", "http.tls": "\(bound.tls)",
                "node.advertise": "\(config.advertisedURL)",
            ]
        )
        // Connections are served by their handlers, not by tasks: this waits for the end.
        // Quiescing closes the listening socket, lets each connection finish its request in
        // flight (HTTP/2: GOAWAY) and completes `closed` once all of them have closed; if the
        // service group's deadline cancels this first, what is still open is closed.
        let closed = serverChannel.eventLoop.makePromise(of: Void.self)
        let shutdown = Mutex(false)
        let initiate: @Sendable () -> Void = {
            guard
                !shutdown.withLock({ was in
                    defer { was = true }
                    return was
                })
            else { return }
            bound.quiesce.initiateShutdown(promise: closed)
        }
        let connections = self.connections
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                try? await closed.futureResult.get()
            } onCancel: {
                initiate()
                connections.closeAll()
            }
        } onGracefulShutdown: {
            self.logger.info("shutting down: no longer accepting, finishing in-flight requests")
            initiate()
        }
        logger.info("all connections closed")
    }

    /// Whether the TLS connection on `channel` presented a client certificate that verified
    /// (on the event loop). Only the server's `optionalVerification` (mutual TLS configured) asks
    /// for one, and then a presented certificate that does not verify fails the handshake, so
    /// any certificate recorded here verified against `--peer-ca`.
    private static func clientCertificateVerified(_ channel: any Channel) -> Bool {
        (try? channel.pipeline.syncOperations.nioSSL_peerCertificate()) != nil
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
    ) async throws -> any Channel {
        let idle = TimeAmount.nanoseconds(config.idleTimeout.nanoseconds)
        let graceTime = TimeAmount.nanoseconds(config.shutdownTimeout.nanoseconds)
        let nodeID = config.id
        let limits = ConnectionLimits(config: config, metrics: metrics)
        let limiter = self.limiter
        let metrics = self.metrics
        let logger = self.logger
        let connections = self.connections
        let serving = RequestServing(
            router: router,
            nodeID: nodeID,
            maxBodyBytes: config.maxBodyBytes,
            metrics: metrics,
            logger: logger
        )
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            // A connection keeps its last receive buffer for the next read (NIO's pooled
            // receive buffers), so the first guess is what every idle keep-alive connection
            // holds: 512 bytes fits a request head; a connection that reads more (an ingest, a
            // peer's link) grows its buffers after the first full read, as before.
            .childChannelOption(
                .recvAllocator,
                value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65536)
            )
            .childChannelInitializer { channel in
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
                        return
                    }
                    connections.add(channel)
                    channel.closeFuture.whenComplete { _ in
                        limiter.release(ip)
                        connections.remove(channel)
                    }
                    try sync.addHandler(IdleStateHandler(allTimeout: idle), name: Self.idleHandlerName)
                    if let sslContext {
                        try sync.addHandler(NIOSSLServerHandler(context: sslContext))
                    } else {
                        try sync.addHandler(HTTPVersionSniffer())
                    }
                    let headerDeadline = HeaderDeadline(timeout: limits.headerTimeout, nodeID: nodeID) {
                        metrics.refused("header_timeout")
                    }
                    try sync.addHandler(headerDeadline)
                    let negotiation = ApplicationProtocolNegotiationHandler { result, channel in
                        channel.eventLoop.makeCompletedFuture {
                            switch result {
                            case .negotiated("h2"):
                                try Self.configureHTTP2(
                                    channel,
                                    idle: idle,
                                    graceTime: graceTime,
                                    limits: limits,
                                    serving: serving
                                )
                            default:
                                try Self.configureHTTP1(
                                    channel,
                                    limits: limits,
                                    headerDeadline: headerDeadline,
                                    serving: serving
                                )
                            }
                        }
                    }
                    try sync.addHandler(negotiation)
                }
            }
        do {
            return try await bootstrap.bind(host: config.listen.host, port: config.listen.port).get()
        } catch {
            throw ServerError(binding: error, at: config.listen)
        }
    }

    private static func configureHTTP1(
        _ channel: any Channel,
        limits: ConnectionLimits,
        headerDeadline: HeaderDeadline,
        serving: RequestServing
    ) throws {
        let sync = channel.pipeline.syncOperations
        try sync.configureHTTPServerPipeline(withErrorHandling: false)
        try sync.addHandler(HTTP1ErrorResponder(nodeID: serving.nodeID))
        try sync.addHandler(limits.bodyDeadline(nodeID: serving.nodeID, header: headerDeadline))
        let facts = ConnectionFacts(
            isHTTP2: false,
            remote: channel.remoteAddress,
            certified: clientCertificateVerified(channel)
        )
        try sync.addHandler(RequestHandler(serving: serving, connection: facts))
        serving.metrics.connectionOpened("http1")
        channel.closeFuture.whenComplete { _ in serving.metrics.connectionClosed("http1") }
    }

    private static func configureHTTP2(
        _ channel: any Channel,
        idle: TimeAmount,
        graceTime: TimeAmount,
        limits: ConnectionLimits,
        serving: RequestServing
    ) throws {
        // The connection's idle timer would be reset by any frame, PINGs included: a client
        // could hold half-open streams forever by pinging. Instead `HTTP2ConnectionGuard` closes
        // a connection without streams after `idle`, and each stream has its own idle timer,
        // which only that stream's frames reset.
        let sync = channel.pipeline.syncOperations
        sync.removeHandler(name: idleHandlerName, promise: nil)
        var settings = NIOHTTP2Handler.Configuration()
        settings.connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: limits.maxStreams),
            HTTP2Setting(parameter: .maxHeaderListSize, value: 16 * 1024),
            HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20),
        ]
        settings.connection.maximumRecentlyResetStreams = 64
        // The manager is there for graceful shutdown (GOAWAY, then close when the streams are
        // done or `graceTime` is up); idleness is the guard's (see `HTTP2ConnectionGuard`), so
        // the manager keeps no idle timer to cancel and re-arm around every batch of streams.
        let manager = NIOHTTP2ServerConnectionManagementHandler.Configuration(
            maxIdleTime: nil,
            maxAge: nil,
            maxGraceTime: graceTime,
            keepalive: nil
        )
        let guardHandler = HTTP2ConnectionGuard(metrics: limits.metrics, idle: idle)
        let facts = ConnectionFacts(
            isHTTP2: true,
            remote: channel.remoteAddress,
            certified: clientCertificateVerified(channel)
        )
        let metrics = limits.metrics
        let streamLimits = StreamLimits(idle: idle, bodyRead: limits.bodyReadTimeout) {
            metrics.refused("body_timeout")
        }
        let connectionManager = NIOHTTP2ServerConnectionManagementHandler(
            eventLoop: channel.eventLoop,
            configuration: manager
        )
        let http2 = NIOHTTP2Handler(
            mode: .server,
            eventLoop: channel.eventLoop,
            connectionConfiguration: settings.connection,
            streamConfiguration: settings.stream,
            streamDelegate: HTTP2ConnectionGuard.StreamDelegate(
                guarded: NIOLoopBound(guardHandler, eventLoop: channel.eventLoop),
                manager: connectionManager.http2StreamDelegate
            )
        ) { stream in
            stream.eventLoop.makeCompletedFuture {
                let streamSync = stream.pipeline.syncOperations
                try streamSync.addHandler(HTTP2StreamCodec())
                try streamSync.addHandler(
                    RequestHandler(serving: serving, connection: facts, streamLimits: streamLimits)
                )
            }
        }
        try sync.addHandler(http2)
        try sync.addHandler(connectionManager)
        try sync.addHandler(guardHandler)
        serving.metrics.connectionOpened("http2")
        channel.closeFuture.whenComplete { _ in serving.metrics.connectionClosed("http2") }
    }
}

/// The server's open connections, so that those still open when shutdown's time is up can be
/// closed (no task per connection exists to cancel).
final class OpenConnections: Sendable {
    private let open = Mutex<[ObjectIdentifier: any Channel]>([:])

    func add(_ channel: any Channel) {
        open.withLock { $0[ObjectIdentifier(channel)] = channel }
    }

    func remove(_ channel: any Channel) {
        _ = open.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    func closeAll() {
        for channel in open.withLock({ Array($0.values) }) { channel.close(promise: nil) }
    }
}
