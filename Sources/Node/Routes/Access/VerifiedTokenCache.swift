import Foundation
import Synchronization

/// Tokens that passed full verification, so a client's next request skips the base64, JSON and
/// HMAC work (a writer sends the same token on every request; at 1,000 writes/s verification
/// was 5% of a node's CPU). Keyed by the whole token string, so any altered byte misses and is
/// verified from scratch; the time claims are re-checked on every hit, so an entry never
/// outlives its token. Bounded: when full, it is emptied (a burst of new tokens only costs the
/// verification the cache would have saved).
final class VerifiedTokenCache: Sendable {
    struct Entry: Sendable {
        var principal: Principal
        var expires: Date
        var notBefore: Date?
    }

    private let entries = Mutex<[String: Entry]>([:])
    /// Most tokens remembered (default 10,000: a few MB at most).
    let capacity: Int

    init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    /// The principal of a verified token still valid at `now`; nil when unknown or out of time
    /// (the caller then verifies it fully, which gives the precise error).
    func principal(for token: String, now: Date = Date()) -> Principal? {
        guard let entry = entries.withLock({ $0[token] }) else { return nil }
        guard entry.expires > now, (entry.notBefore ?? .distantPast) <= now else {
            _ = entries.withLock { $0.removeValue(forKey: token) }
            return nil
        }
        return entry.principal
    }

    func remember(_ token: String, _ entry: Entry) {
        guard capacity > 0 else { return }
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[token] = entry
        }
    }

    var count: Int { entries.withLock { $0.count } }
}
