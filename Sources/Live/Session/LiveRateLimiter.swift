/// Per-user rate limits as token buckets, with time as an input (milliseconds).
///
/// Each bucket is kept as one number, its theoretical arrival time (GCRA, equivalent to a token
/// bucket of `burst` tokens refilled one per `intervalMillis`): exact, integer-only, and a
/// bucket whose time has passed is full, so forgetting it loses nothing. Memory is bounded by
/// `maxKeys`: when full, buckets that have refilled are dropped first, then the fullest ones.
public struct LiveRateLimiter: Sendable {
    /// The outcome of `acquire`.
    public enum Outcome: Sendable, Equatable {
        case allowed
        case limited(retryAfterMillis: Int64)
    }

    /// Tokens a key may spend at once.
    public let burst: Int
    /// Milliseconds to earn back one token.
    public let intervalMillis: Int64
    /// Most keys remembered at once.
    public let maxKeys: Int

    /// Key → theoretical arrival time: the bucket is full at or after it.
    private var arrival: [String: Int64] = [:]

    public init(burst: Int, intervalMillis: Int64, maxKeys: Int = 10_000) {
        precondition(burst >= 1 && intervalMillis >= 1 && maxKeys >= 1)
        self.burst = burst
        self.intervalMillis = intervalMillis
        self.maxKeys = maxKeys
    }

    /// Buckets currently remembered.
    public var count: Int { arrival.count }

    /// How long `key` must wait before it may spend a token; 0 when it may now. Does not spend.
    public func retryAfter(_ key: String, now: Int64) -> Int64 {
        guard let tat = arrival[key] else { return 0 }
        return max(0, tat - now - tolerance)
    }

    /// Tokens `key` holds at `now` (whole tokens, for tests and metrics).
    public func tokens(_ key: String, now: Int64) -> Int {
        guard let tat = arrival[key], tat > now else { return burst }
        return max(0, Int((Int64(burst) * intervalMillis - (tat - now)) / intervalMillis))
    }

    /// Spends one token of `key` if it has one.
    public mutating func acquire(_ key: String, now: Int64) -> Outcome {
        let tat = max(arrival[key] ?? now, now)
        let wait = tat - now - tolerance
        if wait > 0 { return .limited(retryAfterMillis: wait) }
        if arrival[key] == nil, arrival.count >= maxKeys { evict(now: now) }
        arrival[key] = tat + intervalMillis
        return .allowed
    }

    /// How far ahead of `now` the arrival time may run: `burst - 1` intervals.
    private var tolerance: Int64 { Int64(burst - 1) * intervalMillis }

    /// Makes room for at least a quarter of `maxKeys` (amortizing the scan): drops every full
    /// bucket, then, if still crowded, the buckets nearest to full (least limiting state lost).
    private mutating func evict(now: Int64) {
        arrival = arrival.filter { $0.value > now }
        let target = maxKeys - max(1, maxKeys / 4)
        guard arrival.count > target else { return }
        let fullest = arrival.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.prefix(arrival.count - target)
        for (key, _) in fullest { arrival[key] = nil }
    }
}
