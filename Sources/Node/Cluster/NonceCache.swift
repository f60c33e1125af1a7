import Synchronization

/// The nonces of peer requests accepted recently, so a captured request cannot be replayed.
///
/// Time-bucketed: a nonce is filed under the bucket of the request's own (signed) timestamp.
/// A request whose timestamp is more than `window` away from now is refused before it gets
/// here (`PeerAuth`), so once every timestamp a bucket covers is older than `now - window`, no
/// nonce in it can be presented again with success, and the whole bucket is dropped at once.
/// At most `window * 2 / bucketWidth + 2` buckets are alive (7 with the defaults).
///
/// Memory is bounded by `capacity` nonces in all (default 262,144: about 10 MiB with `Set`
/// overhead, over 4,000 peer requests a second sustained for the whole 60 s span). When full,
/// new nonces are refused (`insert` answers `.full`) rather than old ones forgotten: forgetting
/// would reopen the replay window, refusing only slows peers down (they retry), and only a
/// holder of the cluster key can fill it, since nonces are filed after the signature checks out.
final class NonceCache: Sendable {
    enum Outcome: Equatable, Sendable {
        case fresh
        case replayed
        case full
    }

    /// Settings with their defaults.
    struct Settings: Sendable {
        /// How far a request's timestamp may be from now, either way. Default 30 s (API.md).
        var window: Int64 = 30_000
        /// Width of one bucket in ms. Default 10 s: 7 buckets cover the 60 s span.
        var bucketWidth: Int64 = 10_000
        /// Most nonces held across buckets. Default 262,144 (see the type's comment).
        var capacity: Int = 262_144
    }

    private struct State {
        var buckets: [Int64: Set<Nonce>] = [:]
        var count = 0
    }

    /// 128 random bits.
    struct Nonce: Hashable, Sendable {
        var high: UInt64
        var low: UInt64
    }

    let settings: Settings
    private let state = Mutex(State())

    init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// Files `nonce` of a request stamped `timestamp` (unix ms), seen at `now` (unix ms).
    /// `.replayed` when it was seen within the window; the caller has checked the skew already.
    func insert(_ nonce: Nonce, timestamp: Int64, now: Int64) -> Outcome {
        let bucket = Self.floorDiv(timestamp, settings.bucketWidth)
        let oldest = Self.floorDiv(now - settings.window, settings.bucketWidth)
        return state.withLock { state in
            // Drop buckets whose every timestamp is now out of the window.
            for key in state.buckets.keys where key < oldest {
                state.count -= state.buckets.removeValue(forKey: key)?.count ?? 0
            }
            if state.buckets[bucket]?.contains(nonce) == true { return .replayed }
            // A replay may hide in a neighbouring bucket only if it carried another timestamp,
            // but then its signature would not match this request: nonce and timestamp are signed
            // together. Searching one bucket is enough.
            guard state.count < settings.capacity else { return .full }
            state.buckets[bucket, default: []].insert(nonce)
            state.count += 1
            return .fresh
        }
    }

    /// Nonces held now (tests, metrics).
    var count: Int { state.withLock { $0.count } }

    /// Buckets held now (tests).
    var bucketCount: Int { state.withLock { $0.buckets.count } }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }
}
