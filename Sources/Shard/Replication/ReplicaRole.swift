/// The role of one node in one session's replica set.
public enum ReplicaRole: String, Sendable, Hashable, Codable {
    /// Accepts writes, assigns seqs, ships entries, decides commits. At most one per epoch.
    case primary
    /// Follows the primary of its epoch.
    case replica
    /// Asking the members for votes after the primary was lost.
    case candidate
}
