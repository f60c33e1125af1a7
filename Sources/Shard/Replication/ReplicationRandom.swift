import Determinism

/// The replication core's random source: the determinism kit's SplitMix64, seeded by the caller.
///
/// The replica draws its election timeouts from one of these (`duration(from:to:)`) and never from
/// the system generator, so a simulation seed replays exactly. An alias, so Shard and Gossip share
/// one generator without depending on each other.
public typealias ReplicationRandom = SplitMix64
