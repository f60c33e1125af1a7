/// One red packet of a session, as its events built it: the split logged when it was sent, and
/// every grab. The log holds the split, so the amounts a grab hands out are the same on every
/// replica, after any failover and for any retry: exactly-once needs nothing else.
public struct LiveRedPacket: Codable, Sendable, Equatable {
    public var sender: String
    public var total: Int64
    public var currency: String
    /// The shares in the order grabs take them; they add up to `total`.
    public var amounts: [Int64]
    /// ms since the Unix epoch.
    public var expiresAt: Int64
    /// User → the seq of their grab and what it gave.
    public var grabs: [String: Grab] = [:]
    /// Shares went back to the sender (`redpacket_expired`).
    public var expired = false

    public struct Grab: Codable, Sendable, Equatable {
        public var seq: UInt64
        public var amount: Int64
    }

    /// Shares not yet taken.
    public var sharesLeft: Int { amounts.count - grabs.count }
    /// What is not yet taken.
    public var remainder: Int64 { amounts[grabs.count...].reduce(0, +) }
    /// Still handing out shares.
    public var open: Bool { !expired && sharesLeft > 0 }
}

/// A product card as its latest `product` event left it.
public struct LiveProduct: Codable, Sendable, Equatable {
    public var title: String
    public var price: Int64
    public var currency: String
    public var url: String?
    public var image: String?
    /// User → the seq of their click: each user counts once (API: clicks in `stats`).
    public var clicks: [String: UInt64] = [:]
}
