// swift-tools-version:6.1
import PackageDescription

/// Micro benchmarks of Qunbo's pure cores (placement, hashing) and wire codec (LZ4, framing),
/// kept out of the main package so its build and CI stay lean. Run: ops/bench/micro/run
let package = Package(
    name: "qunbo-micro-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "qunbo", path: "../../.."),
        .package(url: "https://github.com/google/swift-benchmark.git", from: "0.1.2"),
    ],
    targets: [
        .executableTarget(
            name: "QunboMicroBenchmarks",
            dependencies: [
                .product(name: "QunboCore", package: "qunbo"),
                .product(name: "Benchmark", package: "swift-benchmark"),
            ]
        )
    ]
)
