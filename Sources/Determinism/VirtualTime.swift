/// A point on the caller's monotonic clock, in nanoseconds since its origin.
///
/// The pure cores never read a clock: the shell passes `now` into every call, which is what lets a
/// simulation run a whole cluster on a virtual clock and replay a seed exactly. A monotonic clock
/// never runs backwards, so time is unsigned and the span between two times is never negative.
/// Arithmetic saturates rather than traps, so a huge configured interval cannot crash a node.
public struct VirtualTime: Comparable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) {
        self.nanoseconds = nanoseconds
    }

    /// The clock's origin.
    public static let zero = VirtualTime(nanoseconds: 0)

    /// A time `seconds` after the origin, to the nearest nanosecond (negative and NaN give the
    /// origin, values past the end of time give the end of time).
    public static func seconds(_ seconds: Double) -> VirtualTime {
        VirtualTime(nanoseconds: VirtualDuration.seconds(seconds).nanoseconds)
    }

    /// A time `milliseconds` after the origin (saturating).
    public static func milliseconds(_ milliseconds: UInt64) -> VirtualTime {
        VirtualTime(nanoseconds: VirtualDuration.milliseconds(milliseconds).nanoseconds)
    }

    /// Seconds since the origin, for logs, tests and floating-point models.
    public var seconds: Double { Double(nanoseconds) / 1e9 }

    public var description: String { "\(Double(nanoseconds) / 1e6)ms" }

    public static func < (lhs: VirtualTime, rhs: VirtualTime) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    /// Saturates at the end of time.
    public static func + (lhs: VirtualTime, rhs: VirtualDuration) -> VirtualTime {
        let (sum, overflow) = lhs.nanoseconds.addingReportingOverflow(rhs.nanoseconds)
        return VirtualTime(nanoseconds: overflow ? .max : sum)
    }

    public static func += (lhs: inout VirtualTime, rhs: VirtualDuration) {
        lhs = lhs + rhs
    }

    /// The span from `rhs` to `lhs`; zero when `rhs` is later (on a monotonic clock that only
    /// happens to a stale reading, and callers never need a negative span).
    public static func - (lhs: VirtualTime, rhs: VirtualTime) -> VirtualDuration {
        VirtualDuration(nanoseconds: lhs.nanoseconds > rhs.nanoseconds ? lhs.nanoseconds - rhs.nanoseconds : 0)
    }
}
