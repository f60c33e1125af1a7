// Re-exported: the operators of these aliases (`now + interval`, `a < b`) are found only where the
// module declaring them is imported, so every file and client using the core's clock sees the kit.
@_exported import Determinism

/// A point on the caller's monotonic clock, in nanoseconds: the determinism kit's `VirtualTime`.
///
/// The core never reads a clock: the shell passes `now` into every call, which is what lets the
/// simulator run hundreds of nodes on a virtual clock and replay a seed exactly. Aliases rather
/// than types of their own, so gossip and replication share one clock and its arithmetic.
public typealias GossipTime = VirtualTime

/// A span of time in nanoseconds, for settings and arithmetic on `GossipTime`.
public typealias GossipDuration = VirtualDuration
