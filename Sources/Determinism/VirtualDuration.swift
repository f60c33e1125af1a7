/// A non-negative span of virtual time in nanoseconds, for settings, timers and `VirtualTime`
/// arithmetic.
///
/// Unsigned for the same reason as `VirtualTime`: no core needs a negative span, and a type that
/// cannot hold one removes a class of sign mistakes from timer code. Addition saturates and
/// subtraction clamps at zero instead of trapping.
public struct VirtualDuration: Comparable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) {
        self.nanoseconds = nanoseconds
    }

    public static let zero = VirtualDuration(nanoseconds: 0)

    /// `seconds` to the nearest nanosecond (negative and NaN give zero, values past `UInt64.max`
    /// nanoseconds give the largest duration).
    public static func seconds(_ seconds: Double) -> VirtualDuration {
        let nanoseconds = (seconds * 1e9).rounded()
        guard nanoseconds > 0 else { return .zero }  // also NaN
        guard nanoseconds < 0x1p64 else { return VirtualDuration(nanoseconds: .max) }
        return VirtualDuration(nanoseconds: UInt64(nanoseconds))
    }

    /// `milliseconds`, saturating.
    public static func milliseconds(_ milliseconds: UInt64) -> VirtualDuration {
        let (product, overflow) = milliseconds.multipliedReportingOverflow(by: 1_000_000)
        return VirtualDuration(nanoseconds: overflow ? .max : product)
    }

    /// The span in seconds, for logs, tests and floating-point models.
    public var seconds: Double { Double(nanoseconds) / 1e9 }

    public var description: String { "\(Double(nanoseconds) / 1e6)ms" }

    public static func < (lhs: VirtualDuration, rhs: VirtualDuration) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    /// Saturating, like `VirtualTime + VirtualDuration`.
    public static func + (lhs: VirtualDuration, rhs: VirtualDuration) -> VirtualDuration {
        let (sum, overflow) = lhs.nanoseconds.addingReportingOverflow(rhs.nanoseconds)
        return VirtualDuration(nanoseconds: overflow ? .max : sum)
    }

    /// Clamps at zero (durations are never negative).
    public static func - (lhs: VirtualDuration, rhs: VirtualDuration) -> VirtualDuration {
        VirtualDuration(nanoseconds: lhs.nanoseconds > rhs.nanoseconds ? lhs.nanoseconds - rhs.nanoseconds : 0)
    }

    /// Scales a duration through `seconds` (gossip's local-health multiplier and suspicion
    /// timeouts); the rounding is part of every gossip simulation's replay.
    public static func * (lhs: VirtualDuration, rhs: Double) -> VirtualDuration {
        .seconds(lhs.seconds * rhs)
    }
}
