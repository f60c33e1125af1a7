/// Timing and sizing of the session directory. Defaults suit a LAN cluster.
public struct DirectorySettings: Sendable, Hashable {
    /// Target replica-set size, primary included (`--replicas`). Default 3.
    public var replicas: Int = 3
    /// How often primaries check their replica sets against the view. Default 500 ms: a lost
    /// replica is replaced well within a second, and a check costs nothing when all is well.
    public var maintenanceInterval: ReplicationDuration = .milliseconds(500)
    /// A learner whose log does not advance for this long while behind is removed and the
    /// replica count restored afresh. Default 10 s.
    public var learnerStall: ReplicationDuration = .milliseconds(10_000)
    /// How long a dead node still counts as a possible holder of a group's copy, so a lookup that
    /// cannot ask it is uncertain (503) rather than a 404. Default 30 s: well past a restart and
    /// the replacement of its replicas.
    public var deadHolderGrace: ReplicationDuration = .milliseconds(30_000)
    /// For this long after joining, a lookup that found nothing is not certain (503, not 404):
    /// a node that has just joined may have heard from one peer only, and its rings then place
    /// the group's replicas on the wrong nodes (the replication simulation found it: a restarted
    /// node that knew two of four nodes called a live session certainly missing). Default 3 s:
    /// a few gossip rounds, in which the rest of the cluster makes itself known.
    public var joinSettle: ReplicationDuration = .milliseconds(3_000)
    /// A live session whose ingest stays away this long is ended by its primary
    /// (`--ingest-grace`). Default 30 s.
    public var ingestGrace: ReplicationDuration = .milliseconds(30_000)
    /// How long a primary of an ended session keeps heartbeating after its last commit before it
    /// settles: its replicas must hear the final commit point, or they would campaign to learn it
    /// (and a primary that settled at once after each election made them do so forever). Default
    /// 1 s: twenty heartbeats.
    public var settleLinger: ReplicationDuration = .milliseconds(1_000)

    public init() {}
}
