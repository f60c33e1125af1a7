/// A tiny deterministic PRNG (SplitMix64, Steele, Lea and Flood 2014), seeded by the caller.
///
/// The pure cores draw every random choice (probe order, push-pull partner, election timeouts) from
/// one of these and never from `SystemRandomNumberGenerator`, so a simulation seed replays exactly.
/// SplitMix64 passes BigCrush and needs only one word of state, which keeps the value type cheap
/// to copy. The output sequence of a seed is part of every simulation's replay: changing the
/// algorithm (or how `nextUnit`, `split` and `duration` draw) changes what every seed means.
public struct SplitMix64: RandomNumberGenerator, Sendable, Hashable {
    public private(set) var state: UInt64

    public init(seed: UInt64) {
        self.state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform double in [0, 1): the top 53 bits of one draw.
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// An independent generator seeded by one draw of this one (for handing one to each simulated
    /// node, so adding a node does not shift the others' sequences).
    public mutating func split() -> SplitMix64 {
        SplitMix64(seed: next())
    }

    /// A duration in `[low, high]` from one draw (`low`, without drawing, when the range is empty).
    ///
    /// The modulo's bias is below 2^-40 for any span under a day; not worth a rejection loop that
    /// would make the number of draws depend on the values.
    public mutating func duration(from low: VirtualDuration, to high: VirtualDuration) -> VirtualDuration {
        guard high > low else { return low }
        let span = high.nanoseconds - low.nanoseconds
        let offset = span == .max ? next() : next() % (span + 1)
        return VirtualDuration(nanoseconds: low.nanoseconds + offset)
    }
}
