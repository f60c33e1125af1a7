/// A tiny deterministic PRNG (SplitMix64), seeded by the caller.
///
/// The replica draws its election timeouts from one of these and never from the system generator,
/// so a simulation seed replays exactly. (Same algorithm as `GossipRandom`; Shard does not import
/// Gossip, so it keeps its own copy.)
public struct ReplicationRandom: RandomNumberGenerator, Sendable, Hashable {
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

    /// A uniform duration in `[low, high]` (`low` when the range is empty).
    public mutating func duration(from low: ReplicationDuration, to high: ReplicationDuration) -> ReplicationDuration {
        guard high > low else { return low }
        let span = high.nanoseconds - low.nanoseconds
        return ReplicationDuration(nanoseconds: low.nanoseconds + next() % (span + 1))
    }
}
