import Live
import Shard

/// One session held by this node, as `/admin/v1/sessions` and the replication metrics see it.
struct SessionSummary: Sendable, Encodable {
    var group: String
    var session: String
    var role: ReplicaRole
    var epoch: UInt64
    var primary: String?
    var members: [String]
    var lastSeq: UInt64
    var commitSeq: UInt64
    /// Primary only: entries each other replica is behind.
    var lag: [String: UInt64]
    var phase: LivePhase

    /// The API's shape: `{"group", "session", "role", "lastSeq", "lagSeq"}` plus details.
    struct JSON: Encodable {
        var group: String
        var session: String
        var role: String
        var epoch: UInt64
        var primary: String?
        var members: [String]
        var lastSeq: UInt64
        var commitSeq: UInt64
        /// Primary: the largest lag of any replica; replica: how far behind the commit it is applied.
        var lagSeq: UInt64
        var lagByReplica: [String: UInt64]
        var ended: Bool
    }

    var json: JSON {
        JSON(
            group: group,
            session: session,
            role: role == .primary ? "primary" : "replica",
            epoch: epoch,
            primary: primary,
            members: members,
            lastSeq: lastSeq,
            commitSeq: commitSeq,
            lagSeq: role == .primary ? (lag.values.max() ?? 0) : lastSeq - min(commitSeq, lastSeq),
            lagByReplica: lag,
            ended: phase == .ended
        )
    }
}
