/// One entry of a session's replicated log.
///
/// `seq` is the position (1-based, contiguous, never reused); `epoch` is the primary's epoch (Raft's
/// term) when the entry was created. Two entries with the same `seq` and `epoch` are the same entry.
public struct ReplicationEntry: Sendable, Hashable, Codable {
    public enum Kind: Sendable, Hashable, Codable {
        /// A client write; the bytes are opaque to replication.
        case data([UInt8])
        /// The voting members from this entry on (takes effect when appended, Raft §4.1). A new
        /// primary also appends one with the unchanged members as its first entry: it commits the
        /// older entries (§5.4.2) and must commit before any membership change (Ongaro's fix to
        /// single-server changes).
        case config([String])
    }

    public var seq: UInt64
    public var epoch: UInt64
    public var kind: Kind

    public init(seq: UInt64, epoch: UInt64, kind: Kind) {
        self.seq = seq
        self.epoch = epoch
        self.kind = kind
    }
}

/// The state of a session up to and including `seq`, as opaque bytes the shell produced, plus what
/// replication needs to continue the log after it.
public struct ReplicationSnapshot: Sendable, Hashable, Codable {
    public var seq: UInt64
    /// Epoch of the entry at `seq` (the consistency check of the next append needs it).
    public var epoch: UInt64
    /// Voting members as of `seq`.
    public var members: [String]
    public var data: [UInt8]

    public init(seq: UInt64, epoch: UInt64, members: [String], data: [UInt8]) {
        self.seq = seq
        self.epoch = epoch
        self.members = members
        self.data = data
    }
}
