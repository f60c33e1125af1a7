/// A message between the replicas of one session. The shell encodes it (it is `Codable`) and
/// delivers it to `SessionReplica.receive(_:from:now:)` on the destination node.
public struct ReplicationMessage: Sendable, Hashable, Codable {
    public enum Kind: Sendable, Hashable, Codable {
        /// Primary to replica: entries after (`prevSeq`, `prevEpoch`), empty as a heartbeat.
        case append(prevSeq: UInt64, prevEpoch: UInt64, entries: [ReplicationEntry], commitSeq: UInt64)
        /// Replica to primary. On success `matchSeq` is the replica's durable prefix known to equal
        /// the primary's log; on failure `lastSeq` is where the primary should retry from (+1).
        case appendAck(success: Bool, matchSeq: UInt64, lastSeq: UInt64)
        /// Candidate to members. `transfer` is set when the election follows `timeoutNow`, and lets
        /// it through the voters' stickiness check.
        case requestVote(lastSeq: UInt64, lastEpoch: UInt64, transfer: Bool)
        case vote(granted: Bool)
        /// Primary to a replica whose needed entries were compacted away.
        case installSnapshot(ReplicationSnapshot)
        /// Replica to primary: like a successful `appendAck`.
        case snapshotAck(matchSeq: UInt64)
        /// Primary to the transfer target: start an election now.
        case timeoutNow
        /// A copy that lost its primary, to members, before it campaigns (Raft thesis §9.6): would
        /// you vote for me in the message's epoch (ours + 1)? Asking changes nothing at either
        /// end (no epoch raised, no vote stored), so a copy that was merely cut off or starved
        /// learns it cannot win without disturbing the primary the others still hear.
        case preVoteRequest(lastSeq: UInt64, lastEpoch: UInt64)
        /// The answer. Granted: the message's epoch is the one asked about. Refused: it is the
        /// answering member's own epoch, so an asker that is behind catches up.
        case preVote(granted: Bool)
    }

    public var session: String
    public var sender: String
    public var epoch: UInt64
    public var kind: Kind

    public init(session: String, sender: String, epoch: UInt64, kind: Kind) {
        self.session = session
        self.sender = sender
        self.epoch = epoch
        self.kind = kind
    }
}
