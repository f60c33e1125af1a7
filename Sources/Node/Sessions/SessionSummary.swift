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
    /// An edge relay's copy (no replica here), and its upstream.
    var isRelay = false
    var upstream: String?
    /// Viewers served by this copy; the relays it feeds.
    var viewers = 0
    var relays: [String] = []

    var json: AdminAPI.SessionJSON {
        AdminAPI.SessionJSON(
            group: group,
            session: session,
            role: isRelay ? "relay" : role == .primary ? "primary" : "replica",
            epoch: epoch,
            primary: primary,
            members: members,
            lastSeq: lastEventSeq,
            committedSeq: publishedEventSeq,
            logLastSeq: lastSeq,
            logCommitSeq: commitSeq,
            lagSeq: isRelay ? 0 : role == .primary ? (lag.values.max() ?? 0) : lastSeq - min(commitSeq, lastSeq),
            lagByReplica: lag,
            ended: phase == .ended,
            viewers: viewers,
            relays: relays,
            upstream: upstream
        )
    }
}
