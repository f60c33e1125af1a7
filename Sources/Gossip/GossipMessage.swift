/// One piggybacked membership claim: a member record and who made the claim.
///
/// `origin` matters for Lifeguard: suspicions about the same member from distinct origins are the
/// independent confirmations that shorten the suspicion timeout.
public struct GossipUpdate: Codable, Sendable, Equatable {
    public var member: Member
    public var origin: MemberID

    public init(member: Member, origin: MemberID) {
        self.member = member
        self.origin = origin
    }
}

/// A wire message between members.
///
/// Every message carries the sender's own record (id, generation, incarnation, address, load,
/// coordinate), so a receiver can fence a message from an old generation of the sender and learns
/// about the sender first-hand. Probes name the target's id and generation, so a probe meant for a
/// previous life of a node is answered by the new life (which supersedes it) and a probe naming a
/// newer generation than the receiver's is ignored (the receiver is a stale process).
public struct GossipMessage: Codable, Sendable, Equatable {
    public var sender: Member
    public var kind: Kind
    /// Piggybacked membership updates (at most `GossipSettings.maxPiggyback`).
    public var updates: [GossipUpdate]

    public init(sender: Member, kind: Kind, updates: [GossipUpdate] = []) {
        self.sender = sender
        self.kind = kind
        self.updates = updates
    }

    public enum Kind: Codable, Sendable, Equatable {
        /// A probe; `seq` is the prober's sequence number, echoed in the ack.
        case ping(seq: UInt64, target: MemberID, targetGeneration: UInt64)
        /// Answer to a ping (or relayed answer to a ping request). `target` is the member that was
        /// probed, `coordinate` that member's Vivaldi coordinate; `sender` is whoever sends this
        /// message (the target itself, or the helper relaying it).
        case ack(seq: UInt64, target: MemberID, targetGeneration: UInt64, coordinate: VivaldiCoordinate?)
        /// Ask the receiver to probe `target` on the sender's behalf and relay the ack (or a nack).
        case pingReq(seq: UInt64, target: Member)
        /// Lifeguard: the helper is alive but got no ack from `target` in time. Its arrival tells the
        /// prober that its own link works, so the missed ack is not its own fault.
        case nack(seq: UInt64, target: MemberID)
        /// Full-state sync: the sender's whole member table. A request is answered with a response.
        case pushPull(members: [Member], isResponse: Bool)
        /// Graceful leave; `sender` carries status `left` with a raised incarnation.
        case leave
        /// Nothing but the piggybacked updates: the fan-out that spreads urgent news
        /// (`GossipSettings.gossipInterval`). Needs no answer.
        case gossip
    }
}

/// What the shell must do after feeding the instance an event.
public enum GossipDirective: Sendable, Equatable {
    /// Send `message` to the member or seed at base URL `to`.
    case send(GossipMessage, to: String)
    /// A member appeared (`previous == nil`) or changed status, generation, address, zone or load.
    case memberChanged(Member, previous: MemberStatus?)
}
