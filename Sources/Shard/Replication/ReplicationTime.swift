// Re-exported: the operators of these aliases (`now + interval`, `a < b`) are found only where the
// module declaring them is imported, so every file and client using the core's clock sees the kit.
@_exported import Determinism

/// A point on the caller's monotonic clock, in nanoseconds: the determinism kit's `VirtualTime`.
///
/// The replication core never reads a clock: the shell passes `now` into every call, so a
/// simulation can run a whole replica set on a virtual clock and replay a seed exactly. Aliases
/// rather than types of their own, so replication and gossip share one clock and its arithmetic.
public typealias ReplicationTime = VirtualTime

/// A non-negative span of time in nanoseconds, for settings and timers.
public typealias ReplicationDuration = VirtualDuration
