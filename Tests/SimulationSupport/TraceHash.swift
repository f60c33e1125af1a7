/// A running hash of everything observable in a simulation run (deliveries, membership changes,
/// faults), so two runs of one seed compare cheaply and a changed trace shows at once.
///
/// Only equality matters: the values are not pinned anywhere, and no simulation reads them back.
public struct TraceHash: Hashable, Sendable {
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325
    public private(set) var events = 0

    public init() {}

    /// A word at a time (multiply, then fold the high bits down): a simulation records every event,
    /// and a byte loop is slow in an unoptimized build.
    public mutating func mix(_ word: UInt64) {
        value = (value ^ word) &* 0x100_0000_01B3
        value ^= value >> 29
    }

    /// Every UTF-8 byte, then the length (so "ab", "c" and "a", "bc" differ).
    public mutating func mix(_ string: String) {
        for byte in string.utf8 { mix(UInt64(byte)) }
        mix(UInt64(string.utf8.count))
    }

    /// One event of up to five words. Fixed arities rather than a variadic, which would allocate an
    /// array on every event.
    public mutating func record(_ a: UInt64, _ b: UInt64 = 0, _ c: UInt64 = 0, _ d: UInt64 = 0, _ e: UInt64 = 0) {
        events += 1
        mix(a)
        mix(b)
        mix(c)
        mix(d)
        mix(e)
    }

    /// One event of six words.
    public mutating func record(_ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64, _ e: UInt64, _ f: UInt64) {
        events += 1
        mix(a)
        mix(b)
        mix(c)
        mix(d)
        mix(e)
        mix(f)
    }
}
