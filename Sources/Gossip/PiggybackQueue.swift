/// memberlist's TransmitLimitedQueue: updates waiting to be piggybacked, each sent a bounded number
/// of times, least-transmitted first and, among equals, most recent first.
///
/// One entry per member: a newer claim about a member replaces the older one, which is never worth
/// sending once superseded.
struct PiggybackQueue: Sendable {
    private struct Entry: Sendable {
        var update: GossipUpdate
        var transmits: Int
        /// Insertion order; larger is newer.
        var stamp: UInt64
    }

    private var entries: [MemberID: Entry] = [:]
    private var nextStamp: UInt64 = 0

    var count: Int { entries.count }

    mutating func enqueue(_ update: GossipUpdate) {
        nextStamp += 1
        entries[update.member.id] = Entry(update: update, transmits: 0, stamp: nextStamp)
    }

    mutating func remove(_ id: MemberID) {
        entries[id] = nil
    }

    /// Takes up to `limit` updates for one message, counting a transmission for each, and drops the
    /// ones sent `retransmitLimit` times. Updates about `excluding` (the receiver) are skipped: it
    /// knows its own state best, except for claims against it, which it must hear to refute.
    mutating func take(limit: Int, retransmitLimit: Int, excluding receiver: MemberID?) -> [GossipUpdate] {
        guard limit > 0, !entries.isEmpty else { return [] }
        var chosen: [Entry] = []
        chosen.reserveCapacity(limit)
        for entry in entries.values {
            if entry.update.member.id == receiver && entry.update.member.status == .alive { continue }
            if chosen.count < limit {
                chosen.append(entry)
                if chosen.count == limit { chosen.sort(by: Self.before) }
            } else if Self.before(entry, chosen[limit - 1]) {
                // Insert keeping `chosen` sorted; limit is small, so a linear insert is cheap.
                var index = limit - 1
                while index > 0 && Self.before(entry, chosen[index - 1]) { index -= 1 }
                chosen.insert(entry, at: index)
                chosen.removeLast()
            }
        }
        chosen.sort(by: Self.before)
        var result: [GossipUpdate] = []
        result.reserveCapacity(chosen.count)
        for entry in chosen {
            let id = entry.update.member.id
            let transmits = entry.transmits + 1
            if transmits >= retransmitLimit {
                entries[id] = nil
            } else {
                entries[id]?.transmits = transmits
            }
            result.append(entry.update)
        }
        return result
    }

    private static func before(_ a: Entry, _ b: Entry) -> Bool {
        a.transmits != b.transmits ? a.transmits < b.transmits : a.stamp > b.stamp
    }
}
