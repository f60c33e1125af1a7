import Live
import Shard

/// One simulated node's session shell, modelled on `SessionHost`: the domain state is the real
/// `LiveSession`, every data entry is applied as it enters the log (so the primary decides each
/// command against everything it has proposed, committed or not), a truncation rebuilds the
/// state from the events kept, and writers wait for their entry's commit.
///
/// Every data entry is the simulation's write id (8 bytes, for `ReplicationSimChecker`) followed
/// by the `LiveEventCodec` bytes the real node logs.
final class RedPacketShell {
    /// What a write waits for, and what to do when its entry commits or its fate becomes unknown.
    struct Waiter {
        var logSeq: UInt64
        var then: Continuation
    }

    enum Continuation {
        /// Answer a client's attempt with the event decided for it (`.append`).
        case answerEvent(attempt: Int, event: LiveEvent)
        /// Answer a client's attempt with the event at this index (`.duplicate`: read at commit,
        /// as `SessionHost.write` reads `allEvents` once its wait returns).
        case answerIndex(attempt: Int, index: Int)
        /// Resume a job of this shell (the expiry pass or the end).
        case job(Int)
    }

    /// A sequence of writes the primary makes itself (`SessionHost.expireRedPackets`, then for
    /// the end the `.end` itself): one at a time, each waiting for the previous one's commit.
    struct Job {
        /// Packets to expire, in id order, computed once when the job starts.
        var ids: [String]
        var next = 0
        /// The end request this job serves (nil: the TTL pass).
        var endAttempt: Int?
        var nowMillis: Int64
    }

    let node: Int
    let settings: LiveSessionSettings
    private(set) var session: LiveSession
    /// Every event in the log, index = event seq - 1, and the log seq of each.
    private(set) var events: [LiveEvent] = []
    private(set) var eventLogSeqs: [UInt64] = []
    /// The event this primary just proposed (`SessionHost.proposed`): applied without a decode.
    var proposed: (logSeq: UInt64, event: LiveEvent)?
    private(set) var waiters: [Waiter] = []
    var jobs: [Int: Job] = [:]
    var nextJob = 0
    /// A TTL pass is running (`SessionHost.expiringRedPackets`).
    var expiring = false
    /// Events that would not apply (`SessionHost.applyEntry` logs and skips them): each one is a
    /// replica whose state no longer follows its log.
    private(set) var applyFailures: [String] = []

    static let sessionID = "s"
    static let group = "g"

    static func freshSession(_ settings: LiveSessionSettings) -> LiveSession {
        LiveSession(state: LiveSessionState(id: sessionID, group: group, epoch: 1), settings: settings)
    }

    /// A shell over a log (a restarted process reading its disk, or a fresh one).
    init(node: Int, settings: LiveSessionSettings, log: [ReplicationEntry]) {
        self.node = node
        self.settings = settings
        session = Self.freshSession(settings)
        for entry in log { apply(entry) }
    }

    /// Decodes an entry's event: the write id, then the codec's bytes.
    static func event(of payload: [UInt8]) throws -> LiveEvent {
        try LiveEventCodec.decode(content(of: payload))
    }

    /// What a data entry holds behind its write id: an event's bytes or a record's.
    static func content(of payload: [UInt8]) -> [UInt8] { Array(payload[8...]) }

    /// Whether a data entry holds an event (not a record: another workload's cursors).
    static func isEvent(_ payload: [UInt8]) -> Bool { LogPayload.isEvent(content(of: payload)) }

    /// A data entry enters the log (`SessionHost.applyEntry`); records are another workload's.
    func apply(_ entry: ReplicationEntry) {
        guard case .data(let payload) = entry.kind, Self.isEvent(payload) else { return }
        do {
            let event: LiveEvent
            if let proposed, proposed.logSeq == entry.seq {
                event = proposed.event
            } else {
                event = try Self.event(of: payload)
            }
            proposed = nil
            try session.apply(event)
            events.append(event)
            eventLogSeqs.append(entry.seq)
        } catch {
            applyFailures.append("log seq \(entry.seq): \(error)")
        }
    }

    /// Entries past `truncateAfter` are gone: the state is rebuilt from the events kept
    /// (`SessionHost.persist`). Returns the waiters whose entries may be gone (their fate is
    /// unknown here).
    func truncate(after truncateAfter: UInt64) -> [Waiter] {
        let keep = eventLogSeqs.prefix { $0 <= truncateAfter }.count
        if keep < events.count {
            let kept = Array(events.prefix(keep))
            var state = LiveSessionState(id: Self.sessionID, group: Self.group, epoch: 1)
            for event in kept { try? state.apply(event) }
            session = LiveSession(state: state, settings: settings)
            events = kept
            eventLogSeqs.removeLast(eventLogSeqs.count - keep)
        }
        return failWaiters(above: truncateAfter)
    }

    func wait(for logSeq: UInt64, then: Continuation) {
        waiters.append(Waiter(logSeq: logSeq, then: then))
    }

    /// Removes and returns the waiters whose entry is now committed, in log order (the order the
    /// real shell's `publish` resumes them is unspecified; log order is one of the possible).
    func committed(upTo logSeq: UInt64) -> [Waiter] {
        guard waiters.contains(where: { $0.logSeq <= logSeq }) else { return [] }
        let done = waiters.filter { $0.logSeq <= logSeq }.sorted { $0.logSeq < $1.logSeq }
        waiters.removeAll { $0.logSeq <= logSeq }
        return done
    }

    /// Removes and returns the waiters for entries past `logSeq` (`SessionHost.failWaiters`).
    func failWaiters(above logSeq: UInt64) -> [Waiter] {
        let failed = waiters.filter { $0.logSeq > logSeq }
        waiters.removeAll { $0.logSeq > logSeq }
        return failed
    }

    /// Decides a command as `SessionHost.write` does, with the simulation's entropy.
    func decide(
        _ command: LiveCommand,
        by actor: LiveActor,
        nowMillis: Int64,
        entropy: UInt64
    )
        -> Result<LiveDecision, LiveError>
    {
        session.decide(command, by: actor, now: nowMillis, mediaMillis: nil, entropy: entropy)
    }

    var state: LiveSessionState { session.state }
}
