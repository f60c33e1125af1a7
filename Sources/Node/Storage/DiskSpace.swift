import CoreMetrics
import Foundation
import Logging
import NIOHTTP1
import Synchronization

/// The free space of the data dir against `--min-free-disk`: whether the node must refuse new
/// sessions, recordings and writes (`507 insufficient_storage`) to keep room for what it has
/// already accepted.
///
/// `statvfs` costs a system call; it runs at most once per `interval` (1 s), on the first
/// question after the last check, so a busy node asks the kernel once a second and an idle one
/// never. The answer in between is the last one: a disk can fill within that second, which is
/// what the fail-stop log (`AppendLog`) is for.
public final class DiskSpace: Sendable {
    public let path: String
    /// Below this many free bytes the node refuses; 0: never.
    public let minFree: UInt64
    let interval: Duration
    /// Free bytes at `path` (nil when unknown); a test substitutes its own.
    let measure: @Sendable (String) -> UInt64?
    private let logger: Logger
    private let freeGauge: Gauge
    private let refusalCounter: Counter

    private struct State {
        var checkedAt: ContinuousClock.Instant?
        var free: UInt64?
        var low = false
    }
    private let state = Mutex(State())

    public init(
        path: String,
        minFree: UInt64,
        interval: Duration = .seconds(1),
        factory: any MetricsFactory,
        logger: Logger,
        measure: @escaping @Sendable (String) -> UInt64? = DiskSpace.statvfsFree
    ) {
        self.path = path
        self.minFree = minFree
        self.interval = interval
        self.measure = measure
        self.logger = logger
        freeGauge = Gauge(label: "qunbo_disk_free_bytes", factory: factory)
        refusalCounter = Counter(label: "qunbo_storage_refusals_total", factory: factory)
    }

    static let help: [String: String] = [
        "qunbo_disk_free_bytes": "Free bytes in the data dir's file system (checked at most once a second).",
        "qunbo_storage_refusals_total":
            "Writes, new sessions and recordings refused with 507 for lack of disk space (--min-free-disk) or a failed log.",
        "qunbo_storage_quarantined_total":
            "Session logs found corrupt at start, moved aside (replication.log.corrupt-<time>) and cut to their valid part.",
        "qunbo_storage_log_failures_total": "Replication-log writes or fsyncs that failed (the log then fails stop).",
    ]

    /// Free bytes available to an unprivileged writer in the file system holding `path`.
    public static let statvfsFree: @Sendable (String) -> UInt64? = { path in
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        return UInt64(info.f_bavail) * UInt64(info.f_frsize)
    }

    /// Whether free space is below the minimum (refreshed if the last check is older than
    /// `interval`). Logs once when it goes low and once when it recovers.
    public var isLow: Bool {
        guard minFree > 0 else { return false }
        let now = ContinuousClock.now
        let (due, low) = state.withLock { s -> (Bool, Bool) in
            if let at = s.checkedAt, now - at < interval { return (false, s.low) }
            s.checkedAt = now
            return (true, s.low)
        }
        guard due else { return low }
        return refresh()
    }

    /// Measures now.
    @discardableResult
    public func refresh() -> Bool {
        let free = measure(path)
        let (low, changed) = state.withLock { s -> (Bool, Bool) in
            s.checkedAt = ContinuousClock.now
            s.free = free
            // An unknown free space (statvfs failed) refuses nothing: the log's own errors decide.
            let low = minFree > 0 && (free.map { $0 < minFree } ?? false)
            defer { s.low = low }
            return (low, low != s.low)
        }
        if let free { freeGauge.record(Int64(clamping: free)) }
        if changed {
            if low {
                logger.warning(
                    "disk space below --min-free-disk: refusing new sessions, recordings and writes",
                    metadata: [
                        "storage.free": "\(free ?? 0)", "storage.min_free": "\(minFree)", "storage.path": "\(path)",
                    ]
                )
            } else {
                logger.notice(
                    "disk space above --min-free-disk again: taking writes",
                    metadata: ["storage.free": "\(free ?? 0)", "storage.min_free": "\(minFree)"]
                )
            }
        }
        return low
    }

    /// Free bytes at the last check.
    public var free: UInt64? { state.withLock { $0.free } }

    /// Counts a refusal (a 507 or 503 for storage).
    func refused() { refusalCounter.increment() }

    /// The 507 every refusal for lack of space answers.
    var refusal: APIError {
        APIError(
            .insufficientStorage,
            "insufficient_storage",
            "this node's disk is below its free-space minimum (--min-free-disk); retry later"
        )
    }

    /// What `/readyz` adds about storage, when something is wrong.
    var readinessNote: String? {
        guard isLow else { return nil }
        return "disk space below --min-free-disk (\(free ?? 0) bytes free): writes refused, viewers served"
    }
}

extension StorageError {
    /// How a write refused for this error is answered: 507 for a full disk, else 503.
    var apiError: APIError {
        if isNoSpace {
            return APIError(
                .insufficientStorage,
                "insufficient_storage",
                "the session's log cannot be written: no space left on this node's disk; retry later"
            )
        }
        return APIError.unavailable(
            "the session's log cannot be written (I/O error); retry later",
            code: "storage_error"
        )
    }
}
