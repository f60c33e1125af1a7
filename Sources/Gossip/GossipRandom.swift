import Determinism

/// The gossip core's random source: the determinism kit's SplitMix64, seeded by the caller.
///
/// The instance draws every random choice (probe order, indirect helpers, push-pull partner) from
/// one of these and never from `SystemRandomNumberGenerator`, so a simulation seed replays exactly.
/// An alias rather than a type of its own, so gossip and replication share one generator.
public typealias GossipRandom = SplitMix64
