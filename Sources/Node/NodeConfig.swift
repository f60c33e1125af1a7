import Logging
import Shard

/// Everything a node is configured with, after flags, `QUNBO_*` environment and the config file
/// have been merged (see `NodeConfig.resolve`). Defaults serve a single local node.
public struct NodeConfig: Sendable, Equatable {
    /// This node's id, unique within the cluster and stable across restarts (placement and
    /// replica sets are keyed by it). Default: `node-<listen port>`, readable in local clusters.
    public var id: String
    /// Where the node listens for clients and peers (one port for HTTP/1.1 and HTTP/2).
    /// Default `127.0.0.1:7000`: loopback only, so a fresh node is not exposed by accident.
    public var listen: HostPort = HostPort(host: "127.0.0.1", port: 7000)
    /// The base URL peers and redirected clients use to reach this node. Default: derived from
    /// `listen` (`http://` or `https://` with TLS); set it when `listen` is a wildcard address.
    public var advertise: String?
    /// Where RTMP publishers (OBS, `ffmpeg -f flv`) connect, `HOST:PORT`. Default none: no
    /// RTMP listener. Needs `authSecret` (stream keys are signed with it).
    public var rtmpListen: HostPort?
    /// Failure-domain label used to spread replicas and to prefer near replicas. Default none.
    public var zone: String?
    /// Peers to join through. Default none: a node alone forms its own cluster.
    public var seeds: [HostPort] = []
    /// Where event logs and recordings live. Default `./qunbo-data`.
    public var dataDir: String = "./qunbo-data"
    /// Replicas per live session, primary included. Default 3: a majority (2) survives one loss.
    public var replicas: Int = 3
    /// HS256 secret for client tokens, at least 32 bytes. Default none (client routes then
    /// answer 401).
    public var authSecret: String?
    /// Shared secret of the cluster, at least 32 bytes: keys the per-request HMAC of node-to-node
    /// requests (`PeerAuth`) and signs operator tokens for `/admin/*`. Default none (a single
    /// node; `/internal/*` and `/admin/*` then refuse everything).
    public var clusterSecret: String?
    /// PEM certificate chain; with `tlsKey`, the port speaks TLS with ALPN `h2`/`http/1.1`, and
    /// this node dials its peers over TLS too (`https://`; seeds given as HOST:PORT included).
    public var tlsCert: String?
    /// PEM private key for `tlsCert`.
    public var tlsKey: String?
    /// PEM CA certificate(s) that peers' server certificates (and, with mutual TLS, their client
    /// certificates) must chain to. Default none: the system's trust roots, no client checks.
    public var peerCA: String?
    /// PEM client certificate this node presents when it dials a peer; with `peerKey` and
    /// `peerCA` it turns on mutual TLS (this node's server then asks every client for a
    /// certificate and refuses node-to-node requests without a verified one). Default none.
    public var peerCert: String?
    /// PEM private key for `peerCert`.
    public var peerKey: String?
    /// How viewer routes at a non-replica are answered: `auto`, `relay`, `redirect` (307) or
    /// `proxy` (API.md, Hot sessions). Default auto: a redirect costs this node nothing and sends
    /// the viewer to its nearest replica, until the session's viewers per replica pass
    /// `relayThreshold`; then this node relays the session (one upstream pull, local fan-out).
    public var route: RouteMode = .auto
    /// Viewers per replica past which `auto` relays rather than redirects (`--relay-threshold`).
    /// Default 500: a replica's fan-out stays well inside one node's measured 2,000 media viewers
    /// while it also replicates and takes writes.
    public var relayThreshold: Int = 500
    /// A relay copy is dropped this long after its last viewer and downstream relay left
    /// (`--relay-linger`). Default 30 s: a viewer reloading the page finds the copy still warm.
    public var relayLinger: Duration = .seconds(30)
    /// How long media for `stream.ts` and `stream.mp4` viewers gathers before it is written to
    /// them as one write (`--media-batch`, 0 to 1 s). Default 200 ms: players buffer seconds,
    /// and a viewer then costs a write every 200 ms instead of one per 20-50 ms chunk (SRS
    /// merges its writes over 350 ms by default); 0 writes each chunk as soon as the loop can.
    public var mediaBatch: Duration = .milliseconds(200)
    /// swift-log level. Default `info`.
    public var logLevel: Logger.Level = .info
    /// How long a live session stays live after its ingest ends. Default 30 s (API.md).
    public var ingestGrace: Duration = .seconds(30)
    /// Unclaimed red-packet shares go back to the sender this long after it was sent
    /// (`--redpacket-ttl`). Default 24 h (API.md).
    public var redPacketTTL: Duration = .seconds(24 * 3600)
    /// Where webhooks go (`--webhook-url`, repeatable; comma-separated in the environment and
    /// the config file). Every node of a cluster should list the same URLs. Default none.
    public var webhookURLs: [String] = []
    /// Signs every webhook delivery (`Qunbo-Signature`); required with `webhookURLs`.
    public var webhookSecret: String?
    /// `live.reminder` fires this long before a scheduled live's start (and again at it)
    /// (`--reminder-lead`). Default 10 min (API.md).
    public var reminderLead: Duration = .seconds(600)
    /// The longest wait between two attempts of a failing webhook delivery
    /// (`--webhook-max-backoff`). Default 30 s: a receiver that comes back gets its backlog
    /// within half a minute, and a dead one gets two attempts a minute per log.
    public var webhookMaxBackoff: Duration = .seconds(30)
    /// A write not committed within this long gets 503 instead of waiting (`--commit-timeout`).
    /// Default 10 s.
    public var commitTimeout: Duration = .seconds(10)
    /// A connection with no traffic in either direction for this long is closed. Default 60 s:
    /// long enough for an SSE stream's 15 s pings, short enough to shed dead clients.
    public var idleTimeout: Duration = .seconds(60)
    /// On SIGTERM, in-flight requests get this long to finish before connections are cut.
    /// Default 10 s, below systemd's 90 s stop timeout.
    public var shutdownTimeout: Duration = .seconds(10)
    /// The largest request body read into memory (JSON writes); streamed bodies (ingest) are
    /// not bounded by this. Default 64 KiB: far above any legal comment or control message.
    public var maxBodyBytes: Int = 64 * 1024
    /// Words that comments and questions may not contain (case-insensitive substrings); a
    /// match is refused with 400 `filtered`. Default none.
    public var keywordFilter: [String] = []
    /// Connections this node holds at once, all clients and peers together; one more is refused
    /// (HTTP/1.1: 503 `too_many_connections` with `Retry-After`, HTTP/2: GOAWAY) and closed.
    /// Default 10,000: about 1 GB of viewer state, well under a 2-core node's fan-out ceiling.
    public var maxConnections: Int = 10_000
    /// Connections one client IP holds at once (peers count too: a node keeps a few to each
    /// peer). Default 256: room for a NAT of viewers, far below what exhausts the node.
    public var maxConnectionsPerIP: Int = 256
    /// HTTP/2 concurrent streams per connection, announced in SETTINGS; a client that opens more
    /// gets GOAWAY. Default 100 (RFC 9113's recommended minimum, what browsers expect).
    public var maxStreams: Int = 100
    /// A request's header block (HTTP/1.1 request line and headers, HTTP/2 HEADERS and
    /// CONTINUATION frames) must be complete this long after its first byte, or the connection
    /// is answered 408 `header_timeout` (HTTP/1.1) or closed (HTTP/2). Default 10 s: slowloris
    /// clients cost a connection for at most that long.
    public var headerTimeout: Duration = .seconds(10)
    /// Each read of a request body must bring bytes within this long once the node asks for
    /// them, or the request is answered 408 `body_timeout` and its connection (HTTP/2: stream)
    /// closed. An ingest that pauses longer than this is cut too. Default 30 s.
    public var bodyReadTimeout: Duration = .seconds(30)
    /// Event and media streams (`events`, `stream.ts`) one user may hold on one session at a
    /// node; one more is 429 `too_many_viewers`. Default 8: a user's phone, laptop and TV tabs.
    public var maxViewersPerUser: Int = 8
    /// Highest ingest bitrate, bits per second, averaged over 5 s (`IngestRateGuard`); above it
    /// the ingest is cut with 429 `ingest_bitrate` (the session stays live for its grace).
    /// Default 20 Mbit/s: a 1080p60 stream is 6-12 Mbit/s.
    public var maxIngestBitrate: Int = 20_000_000
    /// Recorded bytes per session; past it recording stops (logged, counted in
    /// `qunbo_live_recordings_stopped_total`), the live goes on and the replay ends there.
    /// Default 4 GiB: about 5 hours at 2 Mbit/s.
    public var maxRecordingBytes: Int64 = 4 << 30
    /// Longest lifetime a client token may claim: a token whose `exp` is further than this from
    /// now (plus the 30 s clock leeway) is 401. Default 24 h: a leaked token is useful for a day
    /// at most.
    public var maxTokenTTL: Duration = .seconds(24 * 3600)
    /// Test and chaos-harness only: enables `/admin/v1/faults`, which makes this node's peer
    /// traffic drop, lose or delay messages to chosen peers (partitions and zone distance without
    /// kernel support). Default false: no fault can be injected into a production node.
    public var faultInjection: Bool = false
    /// Free space the data dir must keep: below it the node refuses new sessions, recordings and
    /// writes with `507 insufficient_storage` and takes them again once space returns. Default
    /// 256 MiB: room for the replication writes already accepted (and for the replicas' copies
    /// of them) to land, so nothing acknowledged is lost to a full disk. 0 turns the check off.
    public var minFreeDisk: UInt64 = 256 << 20

    public init(id: String? = nil, listen: HostPort = HostPort(host: "127.0.0.1", port: 7000)) {
        self.listen = listen
        self.id = id ?? "node-\(listen.port)"
    }

    /// Whether TLS is configured.
    public var tlsEnabled: Bool { tlsCert != nil && tlsKey != nil }

    /// Whether node-to-node connections are mutually authenticated (see `peerCert`).
    public var mutualTLS: Bool { tlsEnabled && peerCert != nil && peerKey != nil && peerCA != nil }

    /// The scheme this node dials peers known only as HOST:PORT (seeds) with: its own.
    public var peerScheme: String { tlsEnabled ? "https" : "http" }

    /// The URL peers and clients use for this node.
    /// The RTMP URL publishers are told to use at this node (`rtmp://<advertised host>:<port>/live`),
    /// nil without `rtmpListen`.
    public var rtmpURL: String? {
        guard let rtmp = rtmpListen else { return nil }
        var host = rtmp.host
        if host == "0.0.0.0" || host == "::" {
            // The advertised URL's host: the name clients already reach this node by.
            let base = advertisedURL.split(separator: "/").dropFirst().first.map(String.init) ?? "127.0.0.1"
            host = HostPort(parsing: base)?.host ?? "127.0.0.1"
        }
        return "rtmp://\(HostPort(host: host, port: rtmp.port))/live"
    }

    public var advertisedURL: String {
        if let advertise { return advertise }
        let scheme = tlsEnabled ? "https" : "http"
        let host = listen.host == "0.0.0.0" || listen.host == "::" ? "127.0.0.1" : listen.host
        return "\(scheme)://\(HostPort(host: host, port: listen.port))"
    }
}

/// How a node answers viewer routes for sessions it does not hold (the pure decision is
/// `ViewerRouteMode.route` in Shard).
public typealias RouteMode = ViewerRouteMode

/// A `host:port` pair as written on the command line (`[::1]:7000` for IPv6).
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `[v6]:port` or `:port` (loopback). Returns nil on anything else.
    public init?(parsing text: String) {
        let trimmed = text.trimmingSpaces
        guard let colon = trimmed.lastIndex(of: ":") else { return nil }
        var host = String(trimmed[..<colon])
        guard let port = Int(trimmed[trimmed.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") {
            return nil
        }
        if host.isEmpty { host = "127.0.0.1" }
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
