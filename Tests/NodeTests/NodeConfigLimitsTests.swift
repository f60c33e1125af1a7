import Foundation
import Testing

@testable import Node

@Suite("Limit settings")
struct NodeConfigLimitsTests {
    @Test("every limit has its documented default")
    func defaults() throws {
        let c = try NodeConfig.resolve(flags: [:], environment: [:])
        #expect(c.maxConnections == 10_000 && c.maxConnectionsPerIP == 256 && c.maxStreams == 100)
        #expect(c.headerTimeout == .seconds(10) && c.bodyReadTimeout == .seconds(30))
        #expect(c.maxViewersPerUser == 8 && c.maxIngestBitrate == 20_000_000)
        #expect(c.maxRecordingBytes == 4 << 30 && c.maxTokenTTL == .seconds(86_400))
    }

    @Test("limits come from flags, QUNBO_* and the config file")
    func sources() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("limits-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent("node.yaml")
        try "max-recording-bytes: 512MiB\nmax-token-ttl: 2h\n".write(to: file, atomically: true, encoding: .utf8)
        let c = try NodeConfig.resolve(
            flags: ["max-connections": "50", "header-timeout": "2s", "config": file.path],
            environment: [
                "QUNBO_MAX_CONNECTIONS_PER_IP": "5", "QUNBO_MAX_STREAMS": "10", "QUNBO_BODY_READ_TIMEOUT": "500ms",
                "QUNBO_MAX_VIEWERS_PER_USER": "2", "QUNBO_MAX_INGEST_BITRATE": "1000000",
            ]
        )
        #expect(c.maxConnections == 50 && c.maxConnectionsPerIP == 5 && c.maxStreams == 10)
        #expect(c.headerTimeout == .seconds(2) && c.bodyReadTimeout == .milliseconds(500))
        #expect(c.maxViewersPerUser == 2 && c.maxIngestBitrate == 1_000_000)
        #expect(c.maxRecordingBytes == 512 << 20 && c.maxTokenTTL == .seconds(7200))
    }

    @Test("bad limits are refused with the setting named")
    func badValues() {
        for (name, value) in [
            ("max-connections", "0"), ("max-connections-per-ip", "-1"), ("max-streams", "lots"),
            ("header-timeout", "0s"), ("body-read-timeout", "never"), ("max-viewers-per-user", "0"),
            ("max-ingest-bitrate", "10"), ("max-recording-bytes", "1KiB"), ("max-token-ttl", "x"),
        ] {
            #expect {
                try NodeConfig.resolve(flags: [name: value], environment: [:])
            } throws: { error in
                "\(error)".contains("--\(name)")
            }
        }
    }

    @Test("byte sizes")
    func byteSizes() {
        #expect(parseByteSize("4GiB") == 4 << 30 && parseByteSize("64k") == 64 << 10 && parseByteSize("100") == 100)
        #expect(parseByteSize("lots") == nil && parseByteSize("-1") == nil && parseByteSize("99999999999G") == nil)
    }
}
