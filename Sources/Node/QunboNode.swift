import Foundation
import Gossip
import Live
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle

/// A whole node: its services assembled from a `NodeConfig` and run until SIGTERM/SIGINT.
public struct QunboNode: Sendable {
    public let config: NodeConfig
    public let logger: Logger
    public let state = NodeState()
    public let registry = PrometheusCollectorRegistry()

    public init(config: NodeConfig, logger: Logger) {
        self.config = config
        var logger = logger
        logger[metadataKey: "node.id"] = "\(config.id)"
        self.logger = logger
    }

    /// Runs every service of the node; returns after a graceful shutdown, throws if a service
    /// cannot start (the port is taken, TLS material is unreadable, ...).
    public func run(environment: [String: String] = [:]) async throws {
        let factory = PrometheusMetricsFactory(registry: registry)
        let metrics = ServerMetrics(factory: factory)
        let group = MultiThreadedEventLoopGroup.singleton
        let myself = Member(
            id: MemberID(config.id),
            address: config.advertisedURL,
            zone: config.zone,
            // A new generation on every start fences whatever the cluster remembers of the last run.
            generation: UInt64(Date().timeIntervalSince1970 * 1_000_000),
            incarnation: 0,
            status: .alive,
            load: MemberLoad(),
            coordinate: nil
        )
        let view = ClusterView(myself: myself)
        let lostConnections = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(256))
        let faults = config.faultInjection ? FaultInjector(view: view) : nil
        if faults != nil {
            logger.warning("fault injection is on: /admin/v1/faults can break this node's peer traffic")
        }
        let clusterSecret = ClusterSecret(config.clusterSecret)
        // One signer and replay cache per node: it signs what this node sends and checks what
        // peers send (`PeerGate`).
        let peerAuth = clusterSecret.map { PeerAuth(secret: $0, nodeID: config.id) }
        // A TLS node dials peers over TLS; others dial https:// only for members advertising it.
        var peerTLS: PeerTLS?
        if config.tlsEnabled || config.peerCA != nil { peerTLS = try PeerTLS(config: config) }
        let peers = PeerClient(group: group, logger: logger, auth: peerAuth, tls: peerTLS, faults: faults) { address in
            lostConnections.continuation.yield(address)
        }
        let lag = SchedulingLag(loops: Array(group.makeIterator()), factory: factory)
        let gossip = GossipShell(
            connectionLosses: lostConnections.stream,
            myself: myself,
            // Seeds are HOST:PORT; they are dialed with this node's own scheme.
            seeds: config.seeds.map { "\(config.peerScheme)://\($0)" },
            peers: peers,
            view: view,
            state: state,
            metricsFactory: factory,
            lag: lag,
            tickLoop: group.next(),
            logger: logger
        )
        let access = AccessControl(
            verifier: await TokenVerifier(
                secret: config.authSecret,
                lifetime: TokenLifetime(maxTTL: config.maxTokenTTL)
            ),
            operators: await TokenVerifier(secret: config.clusterSecret, secretName: "--cluster-secret")
        )

        var router = Router(logger: logger)
        try? FileManager.default.createDirectory(atPath: config.dataDir, withIntermediateDirectories: true)
        let diskSpace = DiskSpace(path: config.dataDir, minFree: config.minFreeDisk, factory: factory, logger: logger)
        diskSpace.refresh()
        let gate = PeerGate(
            auth: peerAuth,
            requireClientCertificate: config.mutualTLS,
            metricsFactory: factory,
            logger: logger
        )
        router.admission = { request in gate.admit(&request) }
        OperatorRoutes.register(
            into: &router,
            nodeID: config.id,
            state: state,
            diskSpace: diskSpace,
            registry: registry,
            debugRoutes: environment["QUNBO_DEBUG_ROUTES"] == "1"
        )
        var liveSettings = LiveSettings()
        liveSettings.ingestGrace = config.ingestGrace
        liveSettings.session.redPacketTTLMillis = max(1, Int64(config.redPacketTTL / .milliseconds(1)))
        liveSettings.commitTimeout = config.commitTimeout
        liveSettings.filter = LiveKeywordFilter(words: config.keywordFilter)
        liveSettings.maxViewersPerUser = config.maxViewersPerUser
        liveSettings.maxRecordingBytes = config.maxRecordingBytes
        liveSettings.mediaBatch = config.mediaBatch
        liveSettings.webhookDestinations = config.webhookURLs.map(WebhookDestination.key)
        let replicationMetrics = ReplicationMetrics(factory: factory)
        let links = PeerLinks(
            nodeID: config.id,
            peers: peers,
            view: view,
            metrics: replicationMetrics,
            logger: logger
        )
        var relaySettings = RelayHub.Settings()
        relaySettings.mode = config.route
        relaySettings.threshold = config.relayThreshold
        relaySettings.linger = config.relayLinger
        var shell = LiveSessions.Settings()
        shell.replicas = config.replicas
        // SIGTERM drains within the shutdown budget, leaving half of it to gossip's leave and
        // the server's in-flight requests.
        shell.drainDeadline = config.shutdownTimeout / 2
        let sessions = LiveSessions(
            dataDir: config.dataDir,
            nodeID: config.id,
            settings: liveSettings,
            shell: shell,
            view: view,
            links: links,
            state: state,
            metricsFactory: factory,
            replicationMetrics: replicationMetrics,
            diskSpace: diskSpace,
            timerLoop: group.next(),
            relaySettings: relaySettings,
            timeoutStretch: { lag.stretch },
            logger: logger
        )
        var webhookSettings = WebhookDispatcher.Settings()
        webhookSettings.urls = config.webhookURLs
        webhookSettings.secret = config.webhookSecret ?? ""
        webhookSettings.backoff.capMillis = max(1, Int64(config.webhookMaxBackoff / .milliseconds(1)))
        let webhooks = WebhookDispatcher(
            settings: webhookSettings,
            client: WebhookClient(group: group),
            sessions: sessions,
            metrics: WebhookMetrics(
                destinations: webhookSettings.urls.map(WebhookDestinationConfig.init(url:)),
                factory: factory
            ),
            logger: logger
        )
        sessions.webhooksDue.withLock { $0 = { [weak webhooks] session in webhooks?.due(session: session) } }
        do {
            try await sessions.restore()
        } catch {
            throw ServerError.storage("\(error)")
        }
        let cluster = SessionRouter(
            sessions: sessions,
            peers: peers,
            view: view,
            gossip: gossip,
            mode: config.route,
            logger: logger
        )
        sessions.relays.locate.withLock { $0 = { [weak cluster] group in await cluster?.locate(group: group) } }
        AdminRoutes.register(
            into: &router,
            access: access,
            gossip: gossip,
            view: view,
            sessions: sessions,
            faults: faults,
            replicas: config.replicas
        )
        router.add(.GET, "/admin/v1/webhooks") { [nodeID = config.id] request in
            _ = try await access.requireAdmin(request)
            return .json(webhooks.json(node: nodeID))
        }
        var liveRoutes = LiveRoutes(
            sessions: sessions,
            cluster: cluster,
            access: access,
            maxBodyBytes: config.maxBodyBytes
        )
        liveRoutes.maxIngestBitrate = config.maxIngestBitrate
        let streamKeys = config.authSecret.map { StreamKey(secret: $0) }
        if config.rtmpListen != nil, let streamKeys, let url = config.rtmpURL {
            liveRoutes.rtmp = (url, streamKeys)
        }
        liveRoutes.refused = { reason in metrics.refused(reason) }
        liveRoutes.logger = logger
        liveRoutes.register(into: &router)
        WebRoutes.register(into: &router)
        var rtmpServer: RTMPServer?
        if let listen = config.rtmpListen, let streamKeys {
            var settings = RTMPServer.Settings(listen: listen)
            settings.handshakeTimeout = config.headerTimeout
            settings.readTimeout = config.bodyReadTimeout
            settings.maxConnections = config.maxConnections
            settings.maxConnectionsPerIP = config.maxConnectionsPerIP
            let ingestRoutes = liveRoutes
            rtmpServer = RTMPServer(
                settings: settings,
                keys: streamKeys,
                metrics: RTMPMetrics(factory: factory),
                group: group,
                logger: logger
            ) { group, session, body in
                try await ingestRoutes.rtmpIngest(group: group, session: session, body: body)
            }
        }
        router.add(.POST, GossipShell.route) { request in try await gossip.handle(request) }
        router.add(.POST, PeerLinks.route) { request in
            try await links.handle(request) { message, peer in await sessions.deliver(message, from: peer) }
        }
        router.add(.GET, SessionRouter.lookupRoute) { request in try await cluster.handleLookup(request) }
        router.add(.POST, SessionRouter.writeRoute) { request in try await cluster.handleWrite(request) }

        let state = self.state
        let logger = self.logger
        let server = HTTPServer(
            config: config,
            router: router,
            metrics: metrics,
            logger: logger,
            group: group
        ) { address in
            state.markListening()
            logger.notice("listening", metadata: ["http.bound": "\(address)"])
        }
        try await server.bind()
        try await rtmpServer?.bind()
        // Services stop in reverse order: sessions drain first (primaries hand over while gossip,
        // links and the server still run), then gossip leaves the cluster, then the server
        // finishes in-flight requests.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: server), .init(service: links), .init(service: gossip), .init(service: sessions),
        ]
        // RTMP publishers are cut first on shutdown: they reconnect to another node.
        if let rtmpServer { services.append(.init(service: rtmpServer)) }
        services.append(.init(service: LoadReporter(sessions: sessions, gossip: gossip)))
        services.append(.init(service: lag))
        services.append(.init(service: ShareKeeper(sessions: sessions, cluster: cluster, logger: logger)))
        services.append(.init(service: webhooks))
        services.append(.init(service: GroupLogKeeper(sessions: sessions, lead: config.reminderLead)))
        var groupConfig = ServiceGroupConfiguration(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            cancellationSignals: [],
            logger: logger
        )
        groupConfig.maximumGracefulShutdownDuration = config.shutdownTimeout
        groupConfig.maximumCancellationDuration = .seconds(5)
        try await ServiceGroup(configuration: groupConfig).run()
    }
}
