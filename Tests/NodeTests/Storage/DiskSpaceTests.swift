import Foundation
import Logging
import Metrics
import Synchronization
import Testing

@testable import Node

@Suite("Disk space")
struct DiskSpaceTests {
    @Test func byteSizes() {
        #expect(parseByteSize("512MiB") == 512 << 20)
        #expect(parseByteSize("1GiB") == 1 << 30)
        #expect(parseByteSize("1gib") == 1 << 30)
        #expect(parseByteSize("64KiB") == 64 << 10)
        #expect(parseByteSize("2MB") == 2_000_000)
        #expect(parseByteSize("1048576") == 1_048_576)
        #expect(parseByteSize("0") == 0)
        #expect(parseByteSize("100B") == 100)
        #expect(parseByteSize("lots") == nil)
        #expect(parseByteSize("-1MiB") == nil)
    }

    @Test func configKey() throws {
        #expect(try NodeConfig.resolve(flags: [:], environment: [:]).minFreeDisk == 256 << 20)
        #expect(try NodeConfig.resolve(flags: ["min-free-disk": "1GiB"], environment: [:]).minFreeDisk == 1 << 30)
        #expect(
            try NodeConfig.resolve(flags: [:], environment: ["QUNBO_MIN_FREE_DISK": "512MiB"]).minFreeDisk == 512 << 20
        )
        #expect(throws: ConfigError.self) { try NodeConfig.resolve(flags: ["min-free-disk": "much"], environment: [:]) }
    }

    /// Low below the minimum, measured at most once per interval, back when space returns.
    @Test func lowAndBack() {
        let free = Mutex<UInt64>(1 << 30)
        let calls = Mutex(0)
        let space = DiskSpace(
            path: "/",
            minFree: 256 << 20,
            interval: .seconds(3600),
            factory: NOOPMetricsHandler.instance,
            logger: Logger(label: "test"),
            measure: { _ in
                calls.withLock { $0 += 1 }
                return free.withLock { $0 }
            }
        )
        #expect(!space.isLow)
        free.withLock { $0 = 10 << 20 }
        #expect(!space.isLow, "measured again before the interval")
        #expect(calls.withLock { $0 } == 1)
        #expect(space.refresh())
        #expect(space.isLow)
        #expect(space.readinessNote != nil)
        free.withLock { $0 = 300 << 20 }
        #expect(!space.refresh())
        #expect(space.readinessNote == nil)
    }

    @Test func zeroTurnsItOff() {
        let space = DiskSpace(
            path: "/",
            minFree: 0,
            factory: NOOPMetricsHandler.instance,
            logger: Logger(label: "test"),
            measure: { _ in 0 }
        )
        #expect(!space.isLow)
    }

    @Test func statvfsMeasures() {
        #expect((DiskSpace.statvfsFree(FileManager.default.temporaryDirectory.path) ?? 0) > 0)
        #expect(DiskSpace.statvfsFree("/nonexistent/path") == nil)
    }
}
