import Foundation
import Testing

@testable import Node

@Suite("Node configuration")
struct NodeConfigTests {
    @Test("defaults serve a single local node")
    func defaults() throws {
        let c = try NodeConfig.resolve(flags: [:], environment: [:])
        #expect(c.listen == HostPort(host: "127.0.0.1", port: 7000))
        #expect(c.id == "node-7000")
        #expect(c.dataDir == "./qunbo-data")
        #expect(c.replicas == 3)
        #expect(c.route == .auto && c.relayThreshold == 500 && c.relayLinger == .seconds(30))
        #expect(c.mediaBatch == .milliseconds(200))
        #expect(c.advertisedURL == "http://127.0.0.1:7000")
        #expect(c.ingestGrace == .seconds(30))
    }

    @Test("flags beat environment, environment beats the file")
    func precedence() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qunbo-cfg-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent("node.yaml").path
        try """
        listen: 127.0.0.1:7001
        zone: file-zone
        replicas: 5
        seeds: [127.0.0.1:7002, "127.0.0.1:7003"]
        idle-timeout: 5s
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let c = try NodeConfig.resolve(
            flags: ["config": file, "zone": "flag-zone", "cluster-secret": String(repeating: "s", count: 32)],
            environment: ["QUNBO_ZONE": "env-zone", "QUNBO_REPLICAS": "2", "QUNBO_DATA_DIR": "/tmp/d"]
        )
        #expect(c.zone == "flag-zone")
        #expect(c.replicas == 2)
        #expect(c.dataDir == "/tmp/d")
        #expect(c.listen.port == 7001)
        #expect(c.id == "node-7001")
        #expect(c.seeds == [HostPort(host: "127.0.0.1", port: 7002), HostPort(host: "127.0.0.1", port: 7003)])
        #expect(c.idleTimeout == .seconds(5))
    }

    @Test("bad values are refused with the setting and its source named")
    func badValues() throws {
        let cases: [([String: String], [String: String], String)] = [
            (["listen": "nonsense"], [:], "--listen"),
            (["replicas": "0"], [:], "--replicas"),
            ([:], ["QUNBO_ROUTE": "teleport"], "QUNBO_ROUTE"),
            (["idle-timeout": "soon"], [:], "--idle-timeout"),
            (["id": "has space"], [:], "--id"),
            (["seeds": "a:1,b"], [:], "--seeds"),
            (["log-level": "loud"], [:], "--log-level"),
            (["media-batch": "2s"], [:], "--media-batch"),
            ([:], ["QUNBO_MEDIA_BATCH": "soon"], "QUNBO_MEDIA_BATCH"),
        ]
        for (flags, env, source) in cases {
            #expect {
                try NodeConfig.resolve(flags: flags, environment: env)
            } throws: { error in
                "\(error)".contains(source)
            }
        }
        #expect {
            try NodeConfig.resolve(flags: ["seeds": "127.0.0.1:7001"], environment: [:])
        } throws: { error in
            "\(error)".contains("--cluster-secret")
        }
        for name in ["auth-secret", "cluster-secret"] {
            #expect {
                try NodeConfig.resolve(flags: [name: String(repeating: "s", count: 31)], environment: [:])
            } throws: { error in
                let line = "\(error)"
                return line.contains("--\(name)") && line.contains("at least 32 bytes") && !line.contains("\n")
                    && !line.contains("sssss")
            }
            #expect(throws: Never.self) {
                try NodeConfig.resolve(flags: [name: String(repeating: "s", count: 32)], environment: [:])
            }
        }
        #expect(throws: ConfigError.self) {
            try NodeConfig.resolve(flags: ["peer-cert": "c.pem", "peer-key": "k.pem"], environment: [:])
        }
        // No batching at all is a choice (each chunk written at once), not an error.
        #expect(try NodeConfig.resolve(flags: ["media-batch": "0ms"], environment: [:]).mediaBatch == .zero)
        #expect(try NodeConfig.resolve(flags: ["media-batch": "1s"], environment: [:]).mediaBatch == .seconds(1))
        #expect(throws: ConfigError.self) {
            try NodeConfig.resolve(
                flags: ["tls-cert": "c.pem", "tls-key": "k.pem", "advertise": "http://10.0.0.1:7000"],
                environment: [:]
            )
        }
        let tls = try NodeConfig.resolve(
            flags: ["tls-cert": "c.pem", "tls-key": "k.pem", "peer-ca": "ca.pem", "peer-cert": "c.pem"],
            environment: ["QUNBO_PEER_KEY": "k.pem"]
        )
        #expect(tls.mutualTLS && tls.peerScheme == "https" && tls.advertisedURL.hasPrefix("https://"))
        #expect(throws: ConfigError.inconsistent("--tls-cert and --tls-key must be given together")) {
            try NodeConfig.resolve(flags: ["tls-cert": "c.pem"], environment: [:])
        }
    }

    @Test("unreadable, malformed and unknown-key config files are clear errors")
    func badFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qunbo-cfg-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        #expect(throws: ConfigError.unreadableFile(path: "/nonexistent/q.yaml", reason: "no such file")) {
            try NodeConfig.resolve(flags: ["config": "/nonexistent/q.yaml"], environment: [:])
        }
        #expect(throws: ConfigError.unreadableFile(path: dir.path, reason: "is a directory")) {
            try NodeConfig.resolve(flags: ["config": dir.path], environment: [:])
        }
        let unknown = dir.appendingPathComponent("u.yaml").path
        try "listne: 1.2.3.4:5\n".write(toFile: unknown, atomically: true, encoding: .utf8)
        #expect(throws: ConfigError.unknownSetting(name: "listne", source: "config file \(unknown)")) {
            try NodeConfig.resolve(flags: [:], environment: ["QUNBO_CONFIG": unknown])
        }
        let list = dir.appendingPathComponent("l.yaml").path
        try "- a\n- b\n".write(toFile: list, atomically: true, encoding: .utf8)
        #expect {
            try NodeConfig.resolve(flags: ["config": list], environment: [:])
        } throws: { error in
            if case ConfigError.malformedFile = error { return true }
            return false
        }
        let broken = dir.appendingPathComponent("b.yaml").path
        try "listen: [unclosed\n".write(toFile: broken, atomically: true, encoding: .utf8)
        #expect {
            try NodeConfig.resolve(flags: ["config": broken], environment: [:])
        } throws: { error in
            if case ConfigError.malformedFile = error { return true }
            return false
        }
    }

    @Test("the shipped example config parses and sets what it says")
    func exampleConfig() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let path = root.appendingPathComponent("ops/qunbo.example.yaml").path
        let c = try NodeConfig.resolve(flags: ["config": path], environment: [:])
        #expect(c.id == "n1")
        #expect(c.route == .auto && c.relayThreshold == 500 && c.replicas == 3 && c.ingestGrace == .seconds(30))
        #expect(c.maxBodyBytes == 65536)
    }

    @Test("host:port parsing")
    func hostPort() {
        #expect(HostPort(parsing: "[::1]:7000") == HostPort(host: "::1", port: 7000))
        #expect(HostPort(parsing: ":7000") == HostPort(host: "127.0.0.1", port: 7000))
        #expect(HostPort(parsing: "::1:7000") == nil)
        #expect(HostPort(parsing: "h:70000") == nil)
        #expect(HostPort(parsing: "h") == nil)
    }

    @Test("durations")
    func durations() {
        #expect(parseDuration("250ms") == .milliseconds(250))
        #expect(parseDuration("1.5s") == .milliseconds(1500))
        #expect(parseDuration("2m") == .seconds(120))
        #expect(parseDuration("1h") == .seconds(3600))
        #expect(parseDuration("3") == .seconds(3))
        #expect(parseDuration("-1s") == nil)
        #expect(parseDuration("fast") == nil)
    }
}
