import ArgumentParser
import Foundation
import Logging
import Node

/// `qunbo node`: run a node. Every flag may also come from `QUNBO_<FLAG>` or the config file.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run a Qunbo node (SIGTERM or SIGINT drains and stops it)."
    )

    @Option(help: "This node's id (default node-<port>).") var id: String?
    @Option(help: "HOST:PORT to listen on (default 127.0.0.1:7000).") var listen: String?
    @Option(help: "Base URL peers and clients use to reach this node.") var advertise: String?
    @Option(help: "Zone (failure domain) of this node.") var zone: String?
    @Option(help: "Comma-separated HOST:PORT of nodes to join through.") var seeds: String?
    @Option(name: .customLong("data-dir"), help: "Data directory (default ./qunbo-data).") var dataDir: String?
    @Option(help: "Replicas per live session (default 3).") var replicas: String?
    @Option(name: .customLong("auth-secret"), help: "HS256 secret of client tokens (at least 32 bytes).")
    var authSecret: String?
    @Option(
        name: .customLong("cluster-secret"),
        help: "Cluster secret (at least 32 bytes): signs node-to-node requests and operator tokens."
    )
    var clusterSecret: String?
    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain (enables TLS, also to peers).")
    var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: "PEM private key.") var tlsKey: String?
    @Option(name: .customLong("peer-ca"), help: "PEM CA that peers' certificates must chain to (default system roots).")
    var peerCA: String?
    @Option(name: .customLong("peer-cert"), help: "PEM client certificate for peers (mutual TLS; needs --peer-ca).")
    var peerCert: String?
    @Option(name: .customLong("peer-key"), help: "PEM private key of --peer-cert.") var peerKey: String?
    @Option(help: "Viewer routes at a non-replica: auto, relay, redirect or proxy (default auto).") var route: String?
    @Option(
        name: .customLong("relay-threshold"),
        help: "With --route auto, relay once a session has this many viewers per replica (default 500)."
    )
    var relayThreshold: String?
    @Option(name: .customLong("relay-linger"), help: "A relay copy goes this long after its last viewer (default 30s).")
    var relayLinger: String?
    @Option(
        name: .customLong("media-batch"),
        help: "Media gathers this long before it is written to stream.ts/stream.mp4 viewers (0 to 1s, default 200ms)."
    )
    var mediaBatch: String?
    @Option(name: .customLong("log-level"), help: "trace|debug|info|notice|warning|error|critical.") var logLevel:
        String?
    @Option(name: .customLong("ingest-grace"), help: "Session stays live this long after ingest ends (default 30s).")
    var ingestGrace: String?
    @Option(
        name: .customLong("redpacket-ttl"),
        help: "Unclaimed red-packet shares go back after this long (default 24h)."
    )
    var redpacketTTL: String?
    @Option(
        name: .customLong("webhook-url"),
        help: "POST signed webhooks here (repeatable; every node should list the same URLs)."
    )
    var webhookURL: [String] = []
    @Option(name: .customLong("webhook-secret"), help: "Signs webhook deliveries (Qunbo-Signature).")
    var webhookSecret: String?
    @Option(name: .customLong("reminder-lead"), help: "live.reminder this long before a scheduled start (default 10m).")
    var reminderLead: String?
    @Option(
        name: .customLong("webhook-max-backoff"),
        help: "Longest wait between attempts of a failing webhook (default 30s)."
    )
    var webhookMaxBackoff: String?
    @Option(name: .customLong("commit-timeout"), help: "A write not committed this long gets 503 (default 10s).")
    var commitTimeout: String?
    @Option(name: .customLong("idle-timeout"), help: "Close connections idle this long (default 60s).")
    var idleTimeout: String?
    @Option(name: .customLong("shutdown-timeout"), help: "Grace for in-flight requests on stop (default 10s).")
    var shutdownTimeout: String?
    @Option(name: .customLong("max-body-bytes"), help: "Largest JSON request body (default 65536).")
    var maxBodyBytes: String?
    @Option(name: .customLong("keyword-filter"), help: "Comma-separated words refused in comments and questions.")
    var keywordFilter: String?
    @Option(
        name: .customLong("fault-injection"),
        help: "true enables /admin/v1/faults (tests and chaos runs only; default false)."
    )
    var faultInjection: String?
    @Option(
        name: .customLong("min-free-disk"),
        help: "Refuse new sessions, recordings and writes (507) below this free space in the data dir (default 256MiB)."
    )
    var minFreeDisk: String?
    @Option(name: .customLong("max-connections"), help: "Connections held at once (default 10000).")
    var maxConnections: String?
    @Option(name: .customLong("max-connections-per-ip"), help: "Connections per client IP (default 256).")
    var maxConnectionsPerIP: String?
    @Option(name: .customLong("max-streams"), help: "HTTP/2 concurrent streams per connection (default 100).")
    var maxStreams: String?
    @Option(name: .customLong("header-timeout"), help: "Deadline for a request's headers (default 10s).")
    var headerTimeout: String?
    @Option(name: .customLong("body-read-timeout"), help: "Deadline for each request body read (default 30s).")
    var bodyReadTimeout: String?
    @Option(name: .customLong("max-viewers-per-user"), help: "Event/media streams per user per session (default 8).")
    var maxViewersPerUser: String?
    @Option(name: .customLong("max-ingest-bitrate"), help: "Ingest bits/s averaged over 5 s (default 20000000).")
    var maxIngestBitrate: String?
    @Option(name: .customLong("max-recording-bytes"), help: "Recorded bytes per session (default 4GiB).")
    var maxRecordingBytes: String?
    @Option(name: .customLong("max-token-ttl"), help: "Longest lifetime a client token may claim (default 24h).")
    var maxTokenTTL: String?
    @Option(name: .customLong("rtmp-listen"), help: "HOST:PORT for RTMP publishers such as OBS (default: off).")
    var rtmpListen: String?
    @Option(help: "YAML config file; keys are the flag names.") var config: String?

    func run() async throws {
        let given: [(String, String?)] = [
            ("id", id), ("listen", listen), ("advertise", advertise), ("zone", zone), ("seeds", seeds),
            ("data-dir", dataDir), ("replicas", replicas), ("auth-secret", authSecret),
            ("cluster-secret", clusterSecret), ("tls-cert", tlsCert), ("tls-key", tlsKey), ("peer-ca", peerCA),
            ("peer-cert", peerCert), ("peer-key", peerKey), ("route", route),
            ("relay-threshold", relayThreshold), ("relay-linger", relayLinger),
            ("media-batch", mediaBatch),
            ("log-level", logLevel), ("ingest-grace", ingestGrace), ("redpacket-ttl", redpacketTTL),
            ("commit-timeout", commitTimeout),
            ("idle-timeout", idleTimeout),
            ("shutdown-timeout", shutdownTimeout), ("max-body-bytes", maxBodyBytes), ("keyword-filter", keywordFilter),
            ("fault-injection", faultInjection), ("min-free-disk", minFreeDisk), ("max-connections", maxConnections),
            ("max-connections-per-ip", maxConnectionsPerIP), ("max-streams", maxStreams),
            ("header-timeout", headerTimeout), ("body-read-timeout", bodyReadTimeout),
            ("max-viewers-per-user", maxViewersPerUser), ("max-ingest-bitrate", maxIngestBitrate),
            ("max-recording-bytes", maxRecordingBytes), ("max-token-ttl", maxTokenTTL), ("rtmp-listen", rtmpListen),
            ("webhook-url", webhookURL.isEmpty ? nil : webhookURL.joined(separator: ",")),
            ("webhook-secret", webhookSecret), ("reminder-lead", reminderLead),
            ("webhook-max-backoff", webhookMaxBackoff),
            ("config", config),
        ]
        var flags: [String: String] = [:]
        for case (let name, let value?) in given { flags[name] = value }
        let environment = ProcessInfo.processInfo.environment
        let nodeConfig: NodeConfig
        do {
            nodeConfig = try NodeConfig.resolve(flags: flags, environment: environment)
        } catch {
            throw CLIError(error.description)
        }
        let level = nodeConfig.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let node = QunboNode(config: nodeConfig, logger: Logger(label: "qunbo"))
        do {
            try await node.run(environment: environment)
        } catch let error as ServerError {
            throw CLIError(error.description)
        }
    }
}
