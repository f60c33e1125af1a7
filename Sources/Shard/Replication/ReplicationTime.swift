/// A point on the caller's monotonic clock, in nanoseconds.
///
/// The replication core never reads a clock: the shell passes `now` into every call, so a
/// simulation can run a whole replica set on a virtual clock and replay a seed exactly.
public struct ReplicationTime: Comparable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) {
        self.nanoseconds = nanoseconds
    }

    public static let zero = ReplicationTime(nanoseconds: 0)

    public static func milliseconds(_ milliseconds: UInt64) -> ReplicationTime {
        ReplicationTime(nanoseconds: milliseconds * 1_000_000)
    }

    public var description: String { "\(Double(nanoseconds) / 1e6)ms" }

    public static func < (lhs: ReplicationTime, rhs: ReplicationTime) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    /// Saturates at the end of time rather than trapping, so a huge configured timeout cannot crash.
    public static func + (lhs: ReplicationTime, rhs: ReplicationDuration) -> ReplicationTime {
        let (sum, overflow) = lhs.nanoseconds.addingReportingOverflow(rhs.nanoseconds)
        return ReplicationTime(nanoseconds: overflow ? .max : sum)
    }

    /// The span from `rhs` to `lhs`, zero when `rhs` is later (the clock is monotonic, callers never
    /// need a negative span).
    public static func - (lhs: ReplicationTime, rhs: ReplicationTime) -> ReplicationDuration {
        ReplicationDuration(nanoseconds: lhs.nanoseconds > rhs.nanoseconds ? lhs.nanoseconds - rhs.nanoseconds : 0)
    }
}

/// A non-negative span of time in nanoseconds, for settings and timers.
public struct ReplicationDuration: Comparable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) {
        self.nanoseconds = nanoseconds
    }

    public static let zero = ReplicationDuration(nanoseconds: 0)

    public static func milliseconds(_ milliseconds: UInt64) -> ReplicationDuration {
        ReplicationDuration(nanoseconds: milliseconds * 1_000_000)
    }

    public var description: String { "\(Double(nanoseconds) / 1e6)ms" }

    public static func < (lhs: ReplicationDuration, rhs: ReplicationDuration) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    /// Saturating, like `ReplicationTime + ReplicationDuration`.
    public static func + (lhs: ReplicationDuration, rhs: ReplicationDuration) -> ReplicationDuration {
        let (sum, overflow) = lhs.nanoseconds.addingReportingOverflow(rhs.nanoseconds)
        return ReplicationDuration(nanoseconds: overflow ? .max : sum)
    }

    /// Clamps at zero (durations are never negative).
    public static func - (lhs: ReplicationDuration, rhs: ReplicationDuration) -> ReplicationDuration {
        ReplicationDuration(nanoseconds: lhs.nanoseconds > rhs.nanoseconds ? lhs.nanoseconds - rhs.nanoseconds : 0)
    }
}
