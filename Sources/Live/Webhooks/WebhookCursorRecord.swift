/// A delivery cursor in a session's replicated log (`WebhookOutbox.acknowledged`): written by the
/// primary after a destination acknowledged entries, so a new primary resumes from it.
///
/// Layout: the tag byte `0x03` (events start with `0x01` or `{`, likes records with `0x02`),
/// the destination key and the next unacknowledged index, each 8 bytes big-endian. Not an event:
/// it takes a log seq but no event seq, and may follow the `ended` event (an ended session's
/// last webhooks are still being delivered).
public enum WebhookCursorRecord {
    public static let tag: UInt8 = 0x03

    public static func encode(destination: UInt64, next: UInt64) -> [UInt8] {
        var out: [UInt8] = [tag]
        for value in [destination, next] {
            for shift in stride(from: 56, through: 0, by: -8) {
                out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
            }
        }
        return out
    }

    /// The cursor of a record; nil when `payload` is not one, or is malformed.
    public static func decode(_ payload: [UInt8]) -> (destination: UInt64, next: UInt64)? {
        guard payload.count == 17, payload[0] == tag else { return nil }
        func read(_ from: Int) -> UInt64 { payload[from..<from + 8].reduce(0) { $0 << 8 | UInt64($1) } }
        return (read(1), read(9))
    }

    public static func isRecord(_ payload: [UInt8]) -> Bool { payload.first == tag }
}

/// What a log payload is: the log holds events and two kinds of records.
public enum LogPayload {
    /// Whether `payload` is an event (binary `0x01` or the older JSON form), not a record.
    public static func isEvent(_ payload: [UInt8]) -> Bool {
        !LiveLikesRecord.isRecord(payload) && !WebhookCursorRecord.isRecord(payload)
    }
}
