/// The in-memory log of one replica: the entries after a base (0, or the last snapshot's seq).
struct ReplicationLog: Sendable, Hashable {
    private(set) var baseSeq: UInt64 = 0
    private(set) var baseEpoch: UInt64 = 0
    private(set) var entries: [ReplicationEntry] = []

    init() {}

    init(baseSeq: UInt64, baseEpoch: UInt64, entries: [ReplicationEntry] = []) {
        self.baseSeq = baseSeq
        self.baseEpoch = baseEpoch
        self.entries = entries
    }

    var lastSeq: UInt64 { baseSeq + UInt64(entries.count) }
    var lastEpoch: UInt64 { entries.last?.epoch ?? baseEpoch }

    /// Epoch of the entry at `seq`; the base's epoch at `baseSeq`; nil before the base or past the end.
    func epoch(at seq: UInt64) -> UInt64? {
        if seq == baseSeq { return baseEpoch }
        guard seq > baseSeq, seq <= lastSeq else { return nil }
        return entries[Int(seq - baseSeq - 1)].epoch
    }

    func entry(at seq: UInt64) -> ReplicationEntry? {
        guard seq > baseSeq, seq <= lastSeq else { return nil }
        return entries[Int(seq - baseSeq - 1)]
    }

    /// Up to `limit` entries starting at `seq` (which must be after the base).
    func entries(from seq: UInt64, limit: Int) -> [ReplicationEntry] {
        guard seq > baseSeq, seq <= lastSeq else { return [] }
        let start = Int(seq - baseSeq - 1)
        return Array(entries[start..<min(entries.count, start + limit)])
    }

    /// The first seq of the run of entries sharing the epoch of the entry at `seq` (for the fast
    /// back-off of a rejected append: the primary skips a whole divergent epoch at once).
    func firstSeq(ofEpochAt seq: UInt64) -> UInt64 {
        guard let epoch = epoch(at: seq) else { return seq }
        var first = seq
        while first > baseSeq + 1, entries[Int(first - baseSeq - 2)].epoch == epoch { first -= 1 }
        return first
    }

    mutating func append(_ entry: ReplicationEntry) {
        precondition(entry.seq == lastSeq + 1, "log append out of order")
        entries.append(entry)
    }

    mutating func truncate(after seq: UInt64) {
        guard seq < lastSeq else { return }
        entries.removeLast(Int(lastSeq - max(seq, baseSeq)))
    }

    /// Drops the entries up to `seq`, which becomes the base.
    mutating func compact(upTo seq: UInt64) {
        guard seq > baseSeq, let epoch = epoch(at: seq) else { return }
        entries.removeFirst(Int(seq - baseSeq))
        baseSeq = seq
        baseEpoch = epoch
    }

    /// The latest config entry at or before `seq`, if any is still in memory.
    func config(atOrBefore seq: UInt64) -> (seq: UInt64, members: [String])? {
        var index = Int(min(seq, lastSeq)) - Int(baseSeq) - 1
        while index >= 0 {
            if case .config(let members) = entries[index].kind { return (entries[index].seq, members) }
            index -= 1
        }
        return nil
    }
}
