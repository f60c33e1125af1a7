/// A point on the caller's monotonic clock, in nanoseconds.
///
/// The core never reads a clock: the shell passes `now` into every call, which is what lets the
/// simulator run hundreds of nodes on a virtual clock and replay a seed exactly.
public struct GossipTime: Comparable, Sendable, Hashable, CustomStringConvertible {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) {
        self.nanoseconds = nanoseconds
    }

    public static let zero = GossipTime(nanoseconds: 0)

    /// A time `seconds` after the clock's origin (negative values clamp to zero).
    public static func seconds(_ seconds: Double) -> GossipTime {
        GossipTime(nanoseconds: UInt64(max(0, seconds * 1e9).rounded()))
    }

    /// Seconds since the clock's origin, for logs and tests.
    public var seconds: Double { Double(nanoseconds) / 1e9 }

    public var description: String { "\(seconds)s" }

    public static func < (lhs: GossipTime, rhs: GossipTime) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    /// Saturates at the end of time rather than trapping, so a huge configured interval cannot crash.
    public static func + (lhs: GossipTime, rhs: GossipDuration) -> GossipTime {
        if rhs.nanoseconds >= 0 {
            let (sum, overflow) = lhs.nanoseconds.addingReportingOverflow(UInt64(rhs.nanoseconds))
            return GossipTime(nanoseconds: overflow ? .max : sum)
        }
        let magnitude = rhs.nanoseconds.magnitude
        return GossipTime(nanoseconds: lhs.nanoseconds > magnitude ? lhs.nanoseconds - magnitude : 0)
    }

    public static func += (lhs: inout GossipTime, rhs: GossipDuration) {
        lhs = lhs + rhs
    }

    /// The signed span between two times.
    public static func - (lhs: GossipTime, rhs: GossipTime) -> GossipDuration {
        if lhs >= rhs {
            return GossipDuration(nanoseconds: Int64(clamping: lhs.nanoseconds - rhs.nanoseconds))
        }
        return GossipDuration(nanoseconds: -Int64(clamping: rhs.nanoseconds - lhs.nanoseconds))
    }
}

/// A signed span of time in nanoseconds; used for settings and arithmetic on `GossipTime`.
public struct GossipDuration: Comparable, Sendable, Hashable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
    }

    public static let zero = GossipDuration(nanoseconds: 0)

    public static func seconds(_ seconds: Double) -> GossipDuration {
        GossipDuration(nanoseconds: Int64((seconds * 1e9).rounded()))
    }

    public static func milliseconds(_ milliseconds: Int64) -> GossipDuration {
        GossipDuration(nanoseconds: milliseconds * 1_000_000)
    }

    public var seconds: Double { Double(nanoseconds) / 1e9 }

    public var description: String { "\(seconds)s" }

    public static func < (lhs: GossipDuration, rhs: GossipDuration) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    public static func + (lhs: GossipDuration, rhs: GossipDuration) -> GossipDuration {
        GossipDuration(nanoseconds: lhs.nanoseconds &+ rhs.nanoseconds)
    }

    public static func - (lhs: GossipDuration, rhs: GossipDuration) -> GossipDuration {
        GossipDuration(nanoseconds: lhs.nanoseconds &- rhs.nanoseconds)
    }

    /// Scales a duration (used by Lifeguard's local-health multiplier and suspicion timeouts).
    public static func * (lhs: GossipDuration, rhs: Double) -> GossipDuration {
        .seconds(lhs.seconds * rhs)
    }
}
