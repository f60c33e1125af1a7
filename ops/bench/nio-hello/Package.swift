// swift-tools-version:6.1
import PackageDescription

/// A bare SwiftNIO HTTP/1.1 + HTTP/2 (h2c by prior knowledge) hello-world: the yardstick that
/// `ops/bench/healthz-h2load` measures the node's request path against, in the same run.
let package = Package(
    name: "nio-hello",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
    ],
    targets: [
        .executableTarget(
            name: "NIOHello",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            ]
        )
    ]
)
