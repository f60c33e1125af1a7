/// The ingest bitrate ceiling (`--max-ingest-bitrate`) as a token bucket: it holds
/// `windowSeconds` worth of the ceiling and refills at the ceiling, so a stream may burst (a
/// keyframe, an encoder catching up after a stall) but its average over any `windowSeconds`
/// stays under the ceiling plus one window's allowance. Pure: time is an input.
public struct IngestRateGuard: Sendable, Equatable {
    /// The averaging window: long enough for a GOP or two of a normal encoder, short enough
    /// that a flood is cut within seconds.
    public static let windowSeconds: UInt64 = 5

    /// Bytes per second allowed.
    public let bytesPerSecond: UInt64
    /// The bucket's size: `windowSeconds` of `bytesPerSecond`.
    public let capacity: UInt64
    private var available: UInt64
    private var lastNanos: UInt64 = 0

    public init(bitsPerSecond: Int) {
        bytesPerSecond = UInt64(max(1, bitsPerSecond / 8))
        capacity = bytesPerSecond * Self.windowSeconds
        available = capacity
    }

    /// Spends `bytes` received `atNanoseconds` after the ingest began; false when that would
    /// take the stream over the ceiling (the caller cuts it).
    public mutating func admit(bytes: Int, atNanoseconds now: UInt64) -> Bool {
        if now > lastNanos {
            // A window's refill fills the bucket; capping there keeps the product in 64 bits
            // (5e9 ns × 1.25e9 B/s, the largest ceiling the config accepts, is under 2^63).
            let elapsed = min(now - lastNanos, Self.windowSeconds * 1_000_000_000)
            let refill = elapsed * bytesPerSecond / 1_000_000_000
            available = min(capacity, available + refill)
            lastNanos = now
        }
        let cost = UInt64(max(0, bytes))
        guard cost <= available else { return false }
        available -= cost
        return true
    }
}
