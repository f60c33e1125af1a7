/// Likes in the replicated log: counted, not logged one by one (API.md), but a primary writes the
/// likes it counted since its last record as one record about once a second, so every replica
/// shows the same total and a new primary goes on from it after a failover.
///
/// Layout: the tag byte `0x02` (events start with `0x01` or `{`), then the count as 8 bytes
/// big-endian. Not an event: it takes a log seq but no event seq, so viewers' seqs stay
/// gap-free.
public enum LiveLikesRecord {
    public static let tag: UInt8 = 0x02

    public static func encode(_ count: Int64) -> [UInt8] {
        var out: [UInt8] = [tag]
        let bits = UInt64(bitPattern: count)
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
        return out
    }

    /// The count of a likes record; nil when `payload` is not one (an event), or is malformed.
    public static func decode(_ payload: [UInt8]) -> Int64? {
        guard payload.count == 9, payload[0] == tag else { return nil }
        var bits: UInt64 = 0
        for byte in payload[1...] { bits = bits << 8 | UInt64(byte) }
        let count = Int64(bitPattern: bits)
        return count >= 0 ? count : nil
    }

    /// Whether `payload` is a likes record rather than an event.
    public static func isRecord(_ payload: [UInt8]) -> Bool { payload.first == tag }
}
