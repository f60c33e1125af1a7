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
        var router = Router(logger: logger)
        OperatorRoutes.register(
            into: &router,
            nodeID: config.id,
            state: state,
            registry: registry,
            debugRoutes: environment["QUNBO_DEBUG_ROUTES"] == "1"
        )
        let state = self.state
        let logger = self.logger
        let server = HTTPServer(
            config: config,
            router: router,
            metrics: metrics,
            logger: logger,
            group: MultiThreadedEventLoopGroup.singleton
        ) { address in
            state.markListening()
            // Until gossip exists a node is its own cluster; issue 3's shell moves this.
            state.markJoined()
            logger.notice("ready", metadata: ["http.bound": "\(address)"])
        }
        var groupConfig = ServiceGroupConfiguration(
            services: [.init(service: server)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            cancellationSignals: [],
            logger: logger
        )
        groupConfig.maximumGracefulShutdownDuration = config.shutdownTimeout
        groupConfig.maximumCancellationDuration = .seconds(5)
        try await ServiceGroup(configuration: groupConfig).run()
    }
}
