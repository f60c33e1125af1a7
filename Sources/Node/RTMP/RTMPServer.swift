import Live
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The RTMP listener (`--rtmp-listen`): publishers such as OBS and `ffmpeg -f flv` connect
/// here, publish with a session's stream key, and their FLV is turned into the MPEG-TS the
/// HTTP ingest carries and fed to the same `runIngest`, here or at the primary.
///
/// Written on SwiftNIO's async channels: one task per connection, reading only as fast as the
/// ingest consumes, so a publisher faster than the primary is slowed by TCP, not queued.
final class RTMPServer: Service, Sendable {
    /// Settings, with their defaults.
    struct Settings: Sendable {
        /// Where to listen (`--rtmp-listen`).
        var listen: HostPort
        /// From the connection to `publish` (handshake, `connect`, `createStream`): a client
        /// that has not asked to publish by then is cut (`--header-timeout`, 10 s).
        var handshakeTimeout: Duration = .seconds(10)
        /// A publisher silent this long is cut (`--body-read-timeout`, 30 s).
        var readTimeout: Duration = .seconds(30)
        /// RTMP connections held at once, and per client IP (`--max-connections`,
        /// `--max-connections-per-ip`; counted apart from HTTP connections).
        var maxConnections = 10_000
        var maxConnectionsPerIP = 256
        /// Limits of the protocol core (largest message 8 MiB).
        var session = RTMPPublishSession.Settings()
    }

    /// Runs an ingest: the session's group and id (from the verified stream key) and the
    /// MPEG-TS body; answers as the HTTP ingest route does.
    typealias Ingest = @Sendable (_ group: String, _ session: String, _ body: RequestBody) async throws -> Response

    private let settings: Settings
    private let keys: StreamKey
    private let ingest: Ingest
    private let metrics: RTMPMetrics
    private let logger: Logger
    private let group: any EventLoopGroup
    private let limiter: ConnectionLimiter
    private let bound = Mutex<NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>?>(nil)

    init(
        settings: Settings,
        keys: StreamKey,
        metrics: RTMPMetrics,
        group: any EventLoopGroup,
        logger: Logger,
        ingest: @escaping Ingest
    ) {
        self.settings = settings
        self.keys = keys
        self.ingest = ingest
        self.metrics = metrics
        self.logger = logger
        self.group = group
        self.limiter = ConnectionLimiter(
            maxConnections: settings.maxConnections,
            maxPerIP: settings.maxConnectionsPerIP
        )
    }

    /// Binds the port before the node joins a cluster, so a taken port stops it at start.
    func bind() async throws {
        let limiter = self.limiter
        let readTimeout = TimeAmount.nanoseconds(settings.readTimeout.nanoseconds)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
        do {
            let channel = try await bootstrap.bind(host: settings.listen.host, port: settings.listen.port) { child in
                child.eventLoop.makeCompletedFuture {
                    let ip = ConnectionLimiter.key(of: child.remoteAddress)
                    if limiter.admit(ip) != nil {
                        child.close(promise: nil)
                        throw RTMPConnectionRefused()
                    }
                    child.closeFuture.whenComplete { _ in limiter.release(ip) }
                    let sync = child.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(readTimeout: readTimeout))
                    try sync.addHandler(IdleConnectionCloser())
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: child)
                }
            }
            bound.withLock { $0 = channel }
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw ServerError.addressInUse(settings.listen)
        } catch {
            throw ServerError.cannotBind(settings.listen, "\(error)")
        }
    }

    func run() async throws {
        if bound.withLock({ $0 }) == nil { try await bind() }
        guard let server = bound.withLock({ $0 }) else { return }
        logger.info("RTMP listening", metadata: ["rtmp.address": "\(settings.listen)"])
        await withDiscardingTaskGroup { tasks in
            await withGracefulShutdownHandler {
                do {
                    try await server.executeThenClose { inbound in
                        for try await connection in inbound {
                            tasks.addTask { await self.serve(connection) }
                        }
                    }
                } catch {
                    logger.debug("RTMP accept loop ended", metadata: ["error": "\(error)"])
                }
            } onGracefulShutdown: {
                // Publishers reconnect to another node; their sessions go on.
                server.channel.close(promise: nil)
            }
        }
    }

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        let peer = connection.channel.remoteAddress.map { "\($0)" } ?? "?"
        var logger = self.logger
        logger[metadataKey: "rtmp.peer"] = "\(peer)"
        do {
            try await connection.executeThenClose { inbound, outbound in
                let publisher = RTMPPublisher(
                    inbound: inbound.makeAsyncIterator(),
                    outbound: outbound,
                    settings: settings.session
                )
                try await self.publish(publisher, channel: connection.channel, logger: logger)
            }
        } catch {
            logger.debug("RTMP connection ended", metadata: ["error": "\(error)"])
        }
    }

    /// Runs one connection: the handshake up to `publish` (within the deadline), the key
    /// check, then the ingest until the publisher stops, the session ends or a limit cuts it.
    private func publish(_ publisher: RTMPPublisher, channel: any Channel, logger: Logger) async throws {
        let deadline = channel.eventLoop.scheduleTask(in: .nanoseconds(settings.handshakeTimeout.nanoseconds)) {
            channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        guard let (app, streamKey) = try await publisher.awaitPublish() else {
            metrics.publish("protocol")
            return
        }
        deadline.cancel()
        guard app == "live", let (group, session) = keys.verify(streamKey) else {
            metrics.publish("bad_key")
            logger.notice("RTMP publish refused: unknown stream key", metadata: ["rtmp.app": "\(app)"])
            try await publisher.refuse(
                "unknown stream key (publish to rtmp://<node>/live with the key POST /live gave)"
            )
            return
        }
        var logger = logger
        logger[metadataKey: "live.group"] = "\(group)"
        logger[metadataKey: "live.session"] = "\(session)"
        metrics.publishers.increment()
        defer { metrics.publishers.decrement() }
        let refusal: (result: String, message: String)?
        do {
            let response = try await ingest(group, session, .produced(by: publisher.nextMedia))
            refusal = response.status.code < 300 ? nil : Self.refusal(APIError(answer: response))
        } catch let error as APIError {
            refusal = Self.refusal(error)
        } catch {
            refusal = ("refused", "the ingest failed: \(error)")
        }
        if let refusal {
            metrics.publish(refusal.result)
            logger.notice("RTMP publish refused or cut", metadata: ["rtmp.reason": "\(refusal.message)"])
            try await publisher.refuse(refusal.message)
        } else {
            metrics.publish("accepted")
            logger.info("RTMP publish ended", metadata: ["rtmp.bytes": "\(publisher.mediaBytes)"])
        }
    }

    private static func refusal(_ error: APIError?) -> (result: String, message: String) {
        guard let error else { return ("refused", "the ingest was refused") }
        switch error.code {
        case "ingest_busy": return ("busy", "another publisher is live for this session")
        case "no_live_session", "not_live": return ("not_live", "this stream key's session is not live")
        default: return ("refused", error.message)
        }
    }
}

/// A connection over `--max-connections` or `--max-connections-per-ip`: closed at accept.
struct RTMPConnectionRefused: Error {}
