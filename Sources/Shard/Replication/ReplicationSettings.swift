/// Timers and limits of one session's replication; the defaults suit a LAN (sub-millisecond RTT).
///
/// Like memberlist's `DefaultLANConfig`, every default says its unit and why. A WAN deployment
/// should scale the three timers together, keeping `electionTimeoutMin` several heartbeats long.
public struct ReplicationSettings: Sendable, Hashable, Codable {
    /// How often the primary sends an append (empty when idle) to each replica: 50 ms. It carries
    /// the commit point to replicas and proves the primary alive; a few per election timeout.
    public var heartbeatInterval: ReplicationDuration = .milliseconds(50)

    /// Lower bound of the fallback election timeout: 300 ms (6 heartbeats), so one or two lost
    /// heartbeats never start an election. Also the "leader stickiness" window: a replica that
    /// heard from its primary more recently than this ignores vote requests (Raft §4.2.3), which
    /// keeps a node returning from a partition from deposing a healthy primary.
    public var electionTimeoutMin: ReplicationDuration = .milliseconds(300)

    /// Upper bound of the fallback election timeout: 600 ms. The randomized spread between min
    /// and max is what makes split votes rare (Raft §5.2). A primary that has not heard from a
    /// majority for this long steps down (check-quorum), so a partitioned primary stops accepting
    /// writes it could never commit.
    public var electionTimeoutMax: ReplicationDuration = .milliseconds(600)

    /// When gossip reports the primary dead (`primaryLost`), the election starts after a random
    /// delay in [0, this]: 20 ms. Every replica hears the news at about the same time; the
    /// spread lets one candidate ask first instead of all splitting the vote.
    public var primaryLostJitter: ReplicationDuration = .milliseconds(20)

    /// At most this many entries in one append: 256, so catching up a far-behind replica is a
    /// series of bounded messages rather than one huge one.
    public var maxEntriesPerAppend: Int = 256

    /// A new member (learner) is made a voter once its durable log is within this many entries of
    /// the primary's: 64. Adding it earlier would let a slow newcomer stall commits (Raft §4.2.1).
    public var catchUpMaxLag: UInt64 = 64

    /// `addMember` asks the shell for a fresh snapshot (`.needSnapshot`) when the primary holds more
    /// than this many log entries past its last snapshot: 1024. A newcomer then copies a snapshot
    /// and a short tail instead of replaying the whole log.
    public var snapshotHintEntries: UInt64 = 1024

    /// A leadership transfer that has not completed within this is abandoned and the primary
    /// accepts writes again: 600 ms (one maximal election timeout, as Raft §3.10 suggests).
    public var transferTimeout: ReplicationDuration = .milliseconds(600)

    /// Ceiling of `SessionReplica.timeoutStretch`: 8, as Lifeguard's awareness ceiling. A
    /// node starved that badly waits up to 2.4-4.8 s before it campaigns, instead of raising
    /// epochs every 300-600 ms while it cannot even answer.
    public var maxTimeoutStretch: Double = 8

    public init() {}

    /// The LAN defaults above.
    public static let lan = ReplicationSettings()
}
