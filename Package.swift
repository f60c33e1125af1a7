// swift-tools-version:6.1
import PackageDescription

/// Qunbo: a federated cluster of peer nodes for group live streaming.
///
/// Pure protocol cores (`Gossip`, `Shard`, `Live`) depend only on the pure `Determinism` kit, so
/// they build in seconds and are tested by deterministic simulation; only `Node` touches NIO.
let package = Package(
    name: "qunbo",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "qunbo", targets: ["qunbo"]),
        // The pure cores and the wire codec, for the micro benchmarks in ops/bench/micro.
        .library(name: "QunboCore", targets: ["Determinism", "Gossip", "Shard", "Live", "Wire"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
    ],
    targets: [
        // System liblz4 (Debian: liblz4-dev).
        .systemLibrary(
            name: "CLZ4",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]
        ),
        // Node-to-node wire pieces: the bounded LZ4 block codec and batch framing.
        .target(
            name: "Wire",
            dependencies: [
                "CLZ4",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // The pure cores' shared determinism kit: SplitMix64, virtual time, strict varints.
        .target(name: "Determinism"),
        // Pure cores: no NIO, time and randomness are inputs.
        .target(name: "Gossip", dependencies: ["Determinism"]),
        .target(name: "Shard", dependencies: ["Determinism"]),
        .target(name: "Live", dependencies: ["Determinism"]),
        // The process: servers, shells, storage, metrics, config.
        .target(
            name: "Node",
            dependencies: [
                "Wire", "Gossip", "Shard", "Live",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "JWTKit", package: "jwt-kit"),
                // HMAC-SHA256 and HKDF for node-to-node request authentication (PeerAuth).
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            // The watch page, console and SDK, compiled into the binary as byte arrays
            // (`PackageResources.watch_html`, ...): no bundle directory to ship or lose.
            resources: [
                .embedInCode("Web/Assets/watch.html"), .embedInCode("Web/Assets/watch.css"),
                .embedInCode("Web/Assets/watch.js"), .embedInCode("Web/Assets/qunbo.js"),
                .embedInCode("Web/Assets/console.html"), .embedInCode("Web/Assets/console.css"),
                .embedInCode("Web/Assets/console.js"), .embedInCode("Web/Assets/common.css"),
                .embedInCode("Web/Assets/common.js"), .embedInCode("Web/Assets/redpackets.js"),
                .embedInCode("Web/Assets/products.js"), .embedInCode("Web/Assets/board.js"),
                .embedInCode("Web/Assets/modules.css"),
            ]
        ),
        .executableTarget(
            name: "qunbo",
            dependencies: [
                "Node",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Test support shared by the simulation tests (event queue, trace hash, seed replay);
        // only test targets depend on it.
        .target(name: "SimulationSupport", dependencies: ["Determinism"], path: "Tests/SimulationSupport"),
        .testTarget(name: "DeterminismTests", dependencies: ["Determinism"]),
        .testTarget(name: "WireTests", dependencies: ["Wire", "Determinism"]),
        // Wire and NIOCore: the 1,000-node measurement counts bytes by framing messages as the node does.
        .testTarget(
            name: "GossipTests",
            dependencies: [
                "Gossip", "Determinism", "SimulationSupport", "Wire",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // Live: the red-packet chaos simulation runs the session core on the simulated replicas.
        .testTarget(name: "ShardTests", dependencies: ["Shard", "Gossip", "Live", "Determinism", "SimulationSupport"]),
        .testTarget(name: "LiveTests", dependencies: ["Live", "Determinism"]),
        .testTarget(
            name: "NodeTests",
            dependencies: [
                "Node", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        // Real `qunbo` processes driven by real clients (curl, nghttp, promtool).
        // Crypto: `PeerSigner` signs node-to-node requests the way a peer does, written again.
        .testTarget(
            name: "ProcessTests",
            dependencies: ["qunbo", .product(name: "Crypto", package: "swift-crypto")]
        ),
    ]
)
