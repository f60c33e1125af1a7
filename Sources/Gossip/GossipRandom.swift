/// A tiny deterministic PRNG (SplitMix64), seeded by the caller.
///
/// The instance draws every random choice (probe order, indirect helpers, push-pull partner) from
/// one of these and never from `SystemRandomNumberGenerator`, so a simulation seed replays exactly.
/// SplitMix64 passes BigCrush and needs only one word of state, which keeps the value type cheap
/// to copy.
public struct GossipRandom: RandomNumberGenerator, Sendable, Hashable {
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

    /// A uniform double in [0, 1).
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// An independent generator derived from this one (for handing one to each simulated node).
    public mutating func split() -> GossipRandom {
        GossipRandom(seed: next())
    }
}
