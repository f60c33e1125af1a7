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
    /// Replication-log positions (the log also holds config entries, so these run ahead of
    /// event seqs).
    var lastSeq: UInt64
    var commitSeq: UInt64
    /// Event seqs: the last event in the log here, and the last one shown to viewers.
    var lastEventSeq: UInt64
    var publishedEventSeq: UInt64
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
        /// The last event seq in the log here (the API's `seq`).
        var lastSeq: UInt64
        /// The last event seq shown to viewers here (committed).
        var committedSeq: UInt64
        /// Replication-log positions (entries, including config entries).
        var logLastSeq: UInt64
        var logCommitSeq: UInt64
        /// In log entries. Primary: the largest lag of any replica; replica: entries not yet
        /// known to be committed.
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
            lastSeq: lastEventSeq,
            committedSeq: publishedEventSeq,
            logLastSeq: lastSeq,
            logCommitSeq: commitSeq,
            lagSeq: role == .primary ? (lag.values.max() ?? 0) : lastSeq - min(commitSeq, lastSeq),
            lagByReplica: lag,
            ended: phase == .ended
        )
    }
}
