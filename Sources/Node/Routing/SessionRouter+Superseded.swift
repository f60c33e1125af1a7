import Synchronization

/// A forwarded write whose primary was replaced while it waited.
///
/// A killed primary's sockets reset at once and the forward fails fast; a frozen one (SIGSTOP, a
/// VM stall, a long pause) keeps them open, and the write waited for it to resume or for the
/// forward deadline (10 s), long after its replicas had elected another primary. While a forward
/// is outstanding past `supersededWatchAfter`, the router watches for a later epoch with another
/// primary and then gives up on the old one: the caller retries at the new primary, as it does
/// after a reset connection (a retried write carries the client's id, so it is applied once).
extension SessionRouter {
    /// A healthy primary answers a write in milliseconds (a majority's fsync); only a forward
    /// outstanding this long is watched: 150 ms.
    static let supersededWatchAfter: Duration = .milliseconds(150)
    /// How often the watch looks at the local copy: 50 ms (a replica hears a new primary within a
    /// heartbeat of its election).
    static let supersededPollInterval: Duration = .milliseconds(50)
    /// A node without a copy asks the holders instead, this often: 500 ms (a lookup round trip to
    /// a frozen node costs up to `lookupTimeout`).
    static let supersededLookupInterval: Duration = .milliseconds(500)

    /// The epoch this node knows the group's session to be in: its own copy's, else the cached
    /// lookup's; 0 when it knows nothing (any primary found later is then newer).
    func knownEpoch(group: String) async -> UInt64 {
        if let local = await localLocation(group: group) { return local.epoch }
        return cachedLocation(group: group)?.epoch ?? 0
    }

    /// Runs `send` (a forward to `node`'s primary at `epoch`), but answers `.superseded` as soon as
    /// a later epoch with a different primary is known; the send is then cancelled and left to end
    /// on its own (a frozen peer's stream closes at its deadline).
    func watchingForNewPrimary<Outcome: Sendable>(
        group: String,
        node: String,
        epoch: UInt64,
        superseded: Outcome,
        send: @escaping @Sendable () async -> Outcome
    ) async -> Outcome {
        await withCheckedContinuation { continuation in
            let first = FirstOutcome(continuation)
            let sending = Task {
                first.resume(await send())
            }
            Task {
                try? await Task.sleep(for: Self.supersededWatchAfter)
                var lastLookup = ContinuousClock.now
                while !first.done {
                    let lookup = ContinuousClock.now - lastLookup >= Self.supersededLookupInterval
                    if lookup { lastLookup = .now }
                    if await newerPrimary(group: group, than: epoch, besides: node, askPeers: lookup) {
                        sending.cancel()
                        first.resume(superseded)
                        return
                    }
                    try? await Task.sleep(for: Self.supersededPollInterval)
                }
            }
        }
    }

    /// Whether the group's session is known to have a primary other than `node` in an epoch after
    /// `epoch`: from the copy held here, or (no copy here, `askPeers`) from a fresh lookup.
    private func newerPrimary(group: String, than epoch: UInt64, besides node: String, askPeers: Bool) async -> Bool {
        var location = await localLocation(group: group)
        if location == nil, askPeers {
            forget(group: group)
            location = await lookup(group: group, needPrimary: true).location
        }
        guard let location, let primary = location.primary else { return false }
        return primary != node && location.epoch > epoch
    }
}

/// The first of two racing answers, handed to one continuation exactly once.
private final class FirstOutcome<Outcome: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<Outcome, Never>?>

    init(_ continuation: CheckedContinuation<Outcome, Never>) {
        self.continuation = Mutex(continuation)
    }

    var done: Bool { continuation.withLock { $0 == nil } }

    func resume(_ outcome: Outcome) {
        let continuation = self.continuation.withLock { $0.take() }
        continuation?.resume(returning: outcome)
    }
}
