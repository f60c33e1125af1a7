/// How a red packet's total is split into its shares (红包拆分), decided once, by the primary,
/// when the packet is created: the shares are logged with the packet, so every replica, every
/// retry and every failover hands out the same amounts in the same order.
///
/// WeChat's "double average" rule: each share is drawn uniformly from 1 cent to twice the
/// average of what is left, capped so that every later share can still have its cent. It keeps
/// the expected value of every share equal to the average (no advantage in grabbing early) while
/// leaving some shares visibly larger than others, which is the point of a lucky red packet.
public enum RedPacketSplit {
    /// Why a split is refused.
    public enum Refusal: Error, Equatable, Sendable {
        /// Fewer cents than shares: some share would be empty.
        case totalBelowShares
        /// Shares outside 1...`maxShares`.
        case shareCount
    }

    /// The most shares one packet may have (the contract's bound).
    public static let maxShares = 200

    /// The amounts, in cents, in the order they are handed out: `shares` values, each at least
    /// 1, adding up to `total` exactly. `random` is the caller's (the primary's generator; a
    /// seeded one in tests), so the split is a pure function of it.
    public static func split(
        total: Int64,
        shares: Int,
        using random: inout some RandomNumberGenerator
    ) throws(Refusal) -> [Int64] {
        guard (1...maxShares).contains(shares) else { throw .shareCount }
        guard total >= Int64(shares) else { throw .totalBelowShares }
        var amounts: [Int64] = []
        amounts.reserveCapacity(shares)
        var left = total
        for taken in 0..<(shares - 1) {
            let remaining = Int64(shares - taken)
            // Twice the average of what is left, but never so much that a later share gets 0.
            let ceiling = min(2 * left / remaining, left - (remaining - 1))
            let amount = ceiling <= 1 ? 1 : Int64.random(in: 1...ceiling, using: &random)
            amounts.append(amount)
            left -= amount
        }
        amounts.append(left)
        return amounts
    }
}
