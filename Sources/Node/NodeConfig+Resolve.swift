import Foundation
import Live
import Logging
import Yams

extension NodeConfig {
    /// Every setting's name, spelled as its command-line flag without `--`. The same names are
    /// the config file's keys and, upper-cased with `_`, the `QUNBO_*` environment variables.
    public static let settingNames: [String] = [
        "id", "listen", "advertise", "zone", "seeds", "data-dir", "replicas", "auth-secret",
        "cluster-secret", "tls-cert", "tls-key", "peer-ca", "peer-cert", "peer-key", "route", "log-level",
        "ingest-grace", "idle-timeout", "shutdown-timeout", "max-body-bytes", "keyword-filter", "fault-injection",
        "min-free-disk", "commit-timeout", "max-connections", "max-connections-per-ip", "max-streams",
        "header-timeout", "body-read-timeout", "max-viewers-per-user", "max-ingest-bitrate", "max-recording-bytes",
        "max-token-ttl", "rtmp-listen", "redpacket-ttl", "webhook-url", "webhook-secret", "reminder-lead",
        "webhook-max-backoff", "relay-threshold", "relay-linger",
        "media-batch",
    ]

    /// The environment variable for a setting: `data-dir` -> `QUNBO_DATA_DIR`.
    public static func environmentName(for setting: String) -> String {
        "QUNBO_" + setting.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    /// Merges the three sources, most specific first: flags, then `QUNBO_*` environment, then
    /// the config file (`--config` / `QUNBO_CONFIG`), then the defaults.
    ///
    /// - Parameter flags: settings given on the command line, by setting name, as typed.
    public static func resolve(
        flags: [String: String],
        environment: [String: String]
    ) throws(ConfigError) -> NodeConfig {
        for name in flags.keys where !settingNames.contains(name) && name != "config" {
            throw .unknownSetting(name: name, source: "flags")
        }
        var file: [String: String] = [:]
        if let path = flags["config"] ?? environment["QUNBO_CONFIG"] {
            file = try loadFile(path)
        }
        func lookup(_ name: String) -> (value: String, source: String)? {
            if let v = flags[name] { return (v, "--\(name)") }
            let env = environmentName(for: name)
            if let v = environment[env] { return (v, env) }
            if let v = file[name] { return (v, "config file key '\(name)'") }
            return nil
        }

        var listen = HostPort(host: "127.0.0.1", port: 7000)
        if let (v, src) = lookup("listen") {
            guard let hp = HostPort(parsing: v) else {
                throw .invalidValue(name: "listen", value: v, expected: "HOST:PORT", source: src)
            }
            listen = hp
        }
        var config = NodeConfig(id: nil, listen: listen)
        if let (v, src) = lookup("id") {
            guard IdentifierRule.user.accepts(v) else {
                throw .invalidValue(name: "id", value: v, expected: "[A-Za-z0-9_.-]{1,64}", source: src)
            }
            config.id = v
        }
        if let (v, src) = lookup("advertise") {
            guard v.hasPrefix("http://") || v.hasPrefix("https://"), !v.hasSuffix("/") else {
                throw .invalidValue(name: "advertise", value: v, expected: "http(s)://HOST:PORT", source: src)
            }
            config.advertise = v
        }
        if let (v, src) = lookup("rtmp-listen"), !v.isEmpty {
            guard let hp = HostPort(parsing: v) else {
                throw .invalidValue(name: "rtmp-listen", value: v, expected: "HOST:PORT", source: src)
            }
            config.rtmpListen = hp
        }
        if let (v, _) = lookup("zone"), !v.isEmpty { config.zone = v }
        if let (v, src) = lookup("seeds") {
            config.seeds = try v.split(separator: ",").map { part throws(ConfigError) -> HostPort in
                guard let hp = HostPort(parsing: String(part)) else {
                    throw .invalidValue(name: "seeds", value: v, expected: "HOST:PORT,...", source: src)
                }
                return hp
            }
        }
        if let (v, _) = lookup("data-dir") { config.dataDir = v }
        if let (v, src) = lookup("replicas") {
            guard let n = Int(v), (1...7).contains(n) else {
                throw .invalidValue(name: "replicas", value: v, expected: "an integer from 1 to 7", source: src)
            }
            config.replicas = n
        }
        // Both secrets are HMAC keys (HS256 tokens, peer request signatures): shorter than the
        // hash they key, one captured signature is enough to brute-force them (RFC 7518 §3.2).
        for (name, keyPath) in [("auth-secret", \NodeConfig.authSecret), ("cluster-secret", \.clusterSecret)] {
            if let (v, src) = lookup(name), !v.isEmpty {
                guard v.utf8.count >= ClusterSecret.minimumBytes else {
                    throw .invalidValue(
                        name: name,
                        value: "(hidden, \(v.utf8.count) bytes)",
                        expected: "at least 32 bytes (e.g. openssl rand -hex 32)",
                        source: src
                    )
                }
                config[keyPath: keyPath] = v
            }
        }
        if let (v, _) = lookup("tls-cert") { config.tlsCert = v }
        if let (v, _) = lookup("tls-key") { config.tlsKey = v }
        if let (v, _) = lookup("peer-ca"), !v.isEmpty { config.peerCA = v }
        if let (v, _) = lookup("peer-cert"), !v.isEmpty { config.peerCert = v }
        if let (v, _) = lookup("peer-key"), !v.isEmpty { config.peerKey = v }
        if let (v, src) = lookup("fault-injection") {
            switch v.lowercased() {
            case "true", "on", "1", "yes": config.faultInjection = true
            case "false", "off", "0", "no", "": config.faultInjection = false
            default: throw .invalidValue(name: "fault-injection", value: v, expected: "true or false", source: src)
            }
        }
        if let (v, src) = lookup("route") {
            guard let mode = RouteMode(rawValue: v) else {
                throw .invalidValue(name: "route", value: v, expected: "auto, relay, redirect or proxy", source: src)
            }
            config.route = mode
        }
        if let (v, src) = lookup("log-level") {
            guard let level = Logger.Level(rawValue: v.lowercased()) else {
                throw .invalidValue(
                    name: "log-level",
                    value: v,
                    expected: "trace, debug, info, notice, warning, error or critical",
                    source: src
                )
            }
            config.logLevel = level
        }
        // Each duration with the range it may take and how that is said; nil: any positive one.
        let anyPositive: (range: ClosedRange<Duration>, said: String)? = nil
        for (name, keyPath, limits) in [
            ("ingest-grace", \NodeConfig.ingestGrace, anyPositive), ("commit-timeout", \.commitTimeout, nil),
            ("idle-timeout", \.idleTimeout, nil),
            ("shutdown-timeout", \.shutdownTimeout, nil), ("header-timeout", \.headerTimeout, nil),
            ("body-read-timeout", \.bodyReadTimeout, nil), ("max-token-ttl", \.maxTokenTTL, nil),
            ("redpacket-ttl", \.redPacketTTL, nil), ("reminder-lead", \.reminderLead, nil),
            ("relay-linger", \.relayLinger, nil), ("webhook-max-backoff", \.webhookMaxBackoff, nil),
            (
                "media-batch", \.mediaBatch,
                (range: .zero...Duration.seconds(1), said: "a duration from 0ms to 1s, such as 200ms")
            ),
        ] {
            if let (v, src) = lookup(name) {
                guard let d = parseDuration(v), limits.map({ $0.range.contains(d) }) ?? (d > .zero) else {
                    throw .invalidValue(
                        name: name,
                        value: v,
                        expected: limits?.said ?? "a duration such as 500ms, 30s, 2m",
                        source: src
                    )
                }
                config[keyPath: keyPath] = d
            }
        }
        if let (v, src) = lookup("max-body-bytes") {
            guard let n = Int(v), n >= 1024, n <= 64 << 20 else {
                throw .invalidValue(name: "max-body-bytes", value: v, expected: "1024 to 67108864", source: src)
            }
            config.maxBodyBytes = n
        }
        if let (v, src) = lookup("min-free-disk") {
            guard let bytes = parseByteSize(v) else {
                throw .invalidValue(
                    name: "min-free-disk",
                    value: v,
                    expected: "a size such as 256MiB, 1GiB or a number of bytes",
                    source: src
                )
            }
            config.minFreeDisk = bytes
        }
        for (name, keyPath, range) in [
            ("max-connections", \NodeConfig.maxConnections, 1...1_000_000),
            ("max-connections-per-ip", \.maxConnectionsPerIP, 1...1_000_000),
            ("max-streams", \.maxStreams, 1...10_000), ("relay-threshold", \.relayThreshold, 1...10_000_000),
            ("max-viewers-per-user", \.maxViewersPerUser, 1...10_000),
            ("max-ingest-bitrate", \.maxIngestBitrate, 64_000...10_000_000_000),
        ] {
            if let (v, src) = lookup(name) {
                guard let n = Int(v), range.contains(n) else {
                    throw .invalidValue(
                        name: name,
                        value: v,
                        expected: "an integer from \(range.lowerBound) to \(range.upperBound)",
                        source: src
                    )
                }
                config[keyPath: keyPath] = n
            }
        }
        if let (v, src) = lookup("max-recording-bytes") {
            guard let n = parseByteSize(v), n >= 64 << 10, n <= UInt64(Int64.max) else {
                throw .invalidValue(
                    name: "max-recording-bytes",
                    value: v,
                    expected: "a size of at least 64KiB, such as 4GiB, 512MiB or 1048576",
                    source: src
                )
            }
            config.maxRecordingBytes = Int64(n)
        }
        if !config.seeds.isEmpty && config.clusterSecret == nil {
            throw .inconsistent(
                "--seeds needs --cluster-secret (QUNBO_CLUSTER_SECRET): cluster routes are authenticated"
            )
        }
        if config.rtmpListen != nil && config.authSecret == nil {
            throw .inconsistent("--rtmp-listen needs --auth-secret (QUNBO_AUTH_SECRET): stream keys are signed with it")
        }
        try resolveWebhooks(into: &config, lookup)
        if let (v, _) = lookup("keyword-filter") {
            config.keywordFilter = v.split(separator: ",").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
        }
        guard (config.tlsCert == nil) == (config.tlsKey == nil) else {
            throw .inconsistent("--tls-cert and --tls-key must be given together")
        }
        // Peers dial the advertised URL; a TLS node dials only https:// and serves only TLS.
        if config.tlsEnabled, let advertise = config.advertise, !advertise.hasPrefix("https://") {
            throw .inconsistent("--advertise must be an https:// URL on a node with --tls-cert")
        }
        guard (config.peerCert == nil) == (config.peerKey == nil) else {
            throw .inconsistent("--peer-cert and --peer-key must be given together")
        }
        if config.peerCert != nil && (!config.tlsEnabled || config.peerCA == nil) {
            throw .inconsistent(
                "--peer-cert (mutual TLS between nodes) needs --tls-cert/--tls-key and --peer-ca"
            )
        }
        return config
    }

    /// Reads a YAML mapping of `setting: value`. Lists (for `seeds`) are joined with commas.
    static func loadFile(_ path: String) throws(ConfigError) -> [String: String] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .unreadableFile(path: path, reason: Self.describeReadFailure(path: path))
        }
        let parsed: Any?
        do {
            parsed = try Yams.load(yaml: text)
        } catch {
            throw .malformedFile(path: path, reason: "\(error)".split(separator: "\n").first.map(String.init) ?? "")
        }
        guard let parsed else { return [:] }
        guard let mapping = parsed as? [String: Any] else {
            throw .malformedFile(path: path, reason: "expected a mapping of setting: value")
        }
        var out: [String: String] = [:]
        for (key, value) in mapping {
            guard settingNames.contains(key) else {
                throw .unknownSetting(name: key, source: "config file \(path)")
            }
            switch value {
            case let list as [Any]: out[key] = list.map { "\($0)" }.joined(separator: ",")
            case is [String: Any]:
                throw .invalidValue(name: key, value: "a mapping", expected: "a scalar", source: "config file \(path)")
            default: out[key] = "\(value)"
            }
        }
        return out
    }

    private static func describeReadFailure(path: String) -> String {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) { return "no such file" }
        if isDirectory.boolValue { return "is a directory" }
        if !FileManager.default.isReadableFile(atPath: path) { return "permission denied" }
        return "not valid UTF-8 text"
    }
}

/// Parses `512MiB`, `1GiB`, `64KiB`, `2MB` (decimal), `100B` or a bare number of bytes.
public func parseByteSize(_ text: String) -> UInt64? {
    let t = text.trimmingSpaces.lowercased()
    let units: [(String, UInt64)] = [
        ("kib", 1 << 10), ("mib", 1 << 20), ("gib", 1 << 30), ("tib", 1 << 40),
        ("kb", 1_000), ("mb", 1_000_000), ("gb", 1_000_000_000), ("tb", 1_000_000_000_000),
        ("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30), ("b", 1),
    ]
    for (suffix, scale) in units where t.hasSuffix(suffix) {
        let number = t.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)
        guard let n = Double(number), n.isFinite, n >= 0, n * Double(scale) < 1.8e19 else { return nil }
        return UInt64((n * Double(scale)).rounded())
    }
    return UInt64(t)
}

/// Parses `250ms`, `30s`, `2m`, `1h` or a bare number of seconds.
public func parseDuration(_ text: String) -> Duration? {
    let t = text.trimmingSpaces.lowercased()
    let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
    for (suffix, scale) in units where t.hasSuffix(suffix) {
        guard let n = Double(t.dropLast(suffix.count)), n.isFinite, n >= 0 else { return nil }
        return .milliseconds(Int64((n * scale * 1000).rounded()))
    }
    guard let n = Double(t), n.isFinite, n >= 0 else { return nil }
    return .milliseconds(Int64((n * 1000).rounded()))
}

extension NodeConfig {
    /// `--webhook-url` (each an http(s) URL) and `--webhook-secret`, which URLs need.
    static func resolveWebhooks(
        into config: inout NodeConfig,
        _ lookup: (String) -> (value: String, source: String)?
    ) throws(ConfigError) {
        if let (v, src) = lookup("webhook-url") {
            for url in v.split(separator: ",").map({ String($0).trimmingSpaces }).filter({ !$0.isEmpty }) {
                do {
                    _ = try WebhookClient.parse(url: url)
                } catch {
                    throw .invalidValue(
                        name: "webhook-url",
                        value: url,
                        expected: "an http(s):// URL (\(error))",
                        source: src
                    )
                }
                if !config.webhookURLs.contains(url) { config.webhookURLs.append(url) }
            }
        }
        if let (v, _) = lookup("webhook-secret"), !v.isEmpty { config.webhookSecret = v }
        if !config.webhookURLs.isEmpty, config.webhookSecret == nil {
            throw .inconsistent("--webhook-url needs --webhook-secret (QUNBO_WEBHOOK_SECRET): deliveries are signed")
        }
    }
}
