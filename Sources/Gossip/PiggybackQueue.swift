/// memberlist's TransmitLimitedQueue: updates waiting to be piggybacked, each sent a bounded number
/// of times, least-transmitted first and, among equals, most recent first.
///
/// One entry per member: a newer claim about a member replaces the older one, which is never worth
/// sending once superseded.
///
/// An update is *urgent* when it changes what someone decides: a join, a suspicion or its
/// confirmation, a death, a leave, a refutation. While any is queued the instance also gossips
/// on its own (`GossipSettings.gossipInterval`), instead of waiting for probes to carry it; a
/// load publication is not urgent and only rides on probes.
struct PiggybackQueue: Sendable {
    private struct Entry: Sendable {
        var update: GossipUpdate
        var transmits: Int
        /// Insertion order; larger is newer.
        var stamp: UInt64
        var urgent: Bool
    }

    private var entries: [MemberID: Entry] = [:]
    private var nextStamp: UInt64 = 0
    /// Entries with `urgent` set, kept in step so `hasUrgent` is O(1) on every tick.
    private(set) var urgentCount = 0

    var count: Int { entries.count }
    var hasUrgent: Bool { urgentCount > 0 }

    mutating func enqueue(_ update: GossipUpdate, urgent: Bool) {
        nextStamp += 1
        set(update.member.id, Entry(update: update, transmits: 0, stamp: nextStamp, urgent: urgent))
    }

    mutating func remove(_ id: MemberID) {
        set(id, nil)
    }

    private mutating func set(_ id: MemberID, _ entry: Entry?) {
        if entries[id]?.urgent == true { urgentCount -= 1 }
        if entry?.urgent == true { urgentCount += 1 }
        entries[id] = entry
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
                set(id, nil)
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
