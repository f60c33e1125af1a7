/// The webhooks one log owes its destinations: derived from the log's committed events and
/// advanced by the delivery cursors the primary writes into the same log.
///
/// Nothing is stored for the outbox but the cursors: an entry exists because its event is
/// committed ("committed with the event that causes it"), so it cannot be lost while the event
/// is not, and every replica derives the same entries with the same indexes. A cursor says
/// "destination `d` acknowledged every entry below `next`"; a new primary resumes each
/// destination from its cursor, so an entry delivered but not yet recorded is sent again (at
/// least once, with the same id and body).
///
/// A pure value: the shell feeds it committed events in order and cursor records as they are
/// applied; the replication simulation holds one per replica.
public struct WebhookOutbox: Sendable, Equatable {
    /// One webhook owed: the `index`-th derived from the log, of `kind`, caused by the event
    /// with `eventSeq`.
    public struct Entry: Sendable, Equatable, Hashable {
        public var index: UInt64
        public var kind: WebhookKind
        public var eventSeq: UInt64

        public init(index: UInt64, kind: WebhookKind, eventSeq: UInt64) {
            self.index = index
            self.kind = kind
            self.eventSeq = eventSeq
        }
    }

    /// The destinations this node sends to (`WebhookDestination.key` of each URL).
    public let destinations: [UInt64]
    /// Entries derived so far: the index the next one gets.
    public private(set) var derived: UInt64 = 0
    /// Entries some destination has not acknowledged, ascending by index.
    public private(set) var entries: [Entry] = []
    /// Per destination, the first index not acknowledged (absent: 0). Cursors of destinations
    /// this node does not send to are kept too, so they are not lost if it is reconfigured.
    public private(set) var cursors: [UInt64: UInt64] = [:]
    /// Whether the log's live is recorded (from its `started` event): its end makes a replay.
    public private(set) var recorded = false

    public init(destinations: [UInt64]) {
        self.destinations = Array(Set(destinations)).sorted()
    }

    /// A committed event, in log order: appends the webhooks it causes. Returns how many.
    @discardableResult
    public mutating func committed(_ event: LiveEvent) -> Int {
        if event.type == .started { recorded = event.record ?? false }
        guard !destinations.isEmpty else { return 0 }
        let kinds = WebhookKind.caused(by: event, recorded: recorded)
        for kind in kinds {
            entries.append(Entry(index: derived, kind: kind, eventSeq: event.seq))
            derived += 1
        }
        compact()
        return kinds.count
    }

    /// A cursor record of the log: `destination` acknowledged every entry below `next`.
    /// Cursors only move forward (a record from an older primary may arrive after a newer one's).
    public mutating func acknowledged(destination: UInt64, next: UInt64) {
        guard next > cursors[destination, default: 0] else { return }
        cursors[destination] = next
        compact()
    }

    /// The first entry `destination` has not acknowledged, at or after `from` (the sender's own
    /// position, which runs ahead of the recorded cursor while its records commit).
    public func next(for destination: UInt64, from: UInt64 = 0) -> Entry? {
        let start = max(from, cursors[destination, default: 0])
        // Entries are ascending by index: find the first at or after `start`.
        var low = 0
        var high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if entries[mid].index < start { low = mid + 1 } else { high = mid }
        }
        return low < entries.count ? entries[low] : nil
    }

    /// Entries `destination` has not acknowledged.
    public func backlog(for destination: UInt64) -> UInt64 {
        derived - min(derived, cursors[destination, default: 0])
    }

    /// Whether any destination is owed anything: an ended session's copies stay active (they do
    /// not settle) until it is not, so its last webhooks are sent even after a failover.
    public var pending: Bool { destinations.contains { backlog(for: $0) > 0 } }

    /// Owes nothing more here, without a cursor record: for a copy whose webhooks would all be
    /// past the give-up age (a session that ended long ago, restored after webhooks were
    /// configured), so it settles instead of sending a day-old backlog.
    public mutating func forgetOwed() {
        for destination in destinations where cursors[destination, default: 0] < derived {
            cursors[destination] = derived
        }
        compact()
    }

    /// Drops entries every destination acknowledged: memory holds only what is owed.
    private mutating func compact() {
        let floor = destinations.map { cursors[$0, default: 0] }.min() ?? derived
        guard let first = entries.first, first.index < floor else { return }
        entries.removeFirst(entries.prefix { $0.index < floor }.count)
    }
}

/// A webhook destination's key in cursor records: FNV-1a 64 of its URL, so every node that is
/// configured with the same URL names the same cursor.
public enum WebhookDestination {
    public static func key(_ url: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in url.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}
