import Testing

@testable import Live

@Suite("Rate limiter")
struct LiveRateLimiterTests {
    @Test func burstThenRefill() {
        var limiter = LiveRateLimiter(burst: 5, intervalMillis: 500)
        let t: Int64 = 1_000_000
        for _ in 0..<5 { #expect(limiter.acquire("u", now: t) == .allowed) }
        #expect(limiter.tokens("u", now: t) == 0)
        #expect(limiter.acquire("u", now: t) == .limited(retryAfterMillis: 500))
        #expect(limiter.acquire("u", now: t + 200) == .limited(retryAfterMillis: 300))
        #expect(limiter.retryAfter("u", now: t + 499) == 1)
        #expect(limiter.acquire("u", now: t + 500) == .allowed)
        #expect(limiter.acquire("u", now: t + 500) == .limited(retryAfterMillis: 500))
        // Two seconds later four tokens are back (2/s), not more than the burst after long idle.
        #expect(limiter.tokens("u", now: t + 2500) == 4)
        #expect(limiter.tokens("u", now: t + 60_000) == 5)
        for _ in 0..<5 { #expect(limiter.acquire("u", now: t + 60_000) == .allowed) }
        #expect(limiter.acquire("u", now: t + 60_000) != .allowed)
    }

    @Test func sustainedRateIsTheRefillRate() {
        var limiter = LiveRateLimiter(burst: 3, intervalMillis: 100)
        var allowed = 0
        for ms in stride(from: Int64(0), to: 10_000, by: 10) where limiter.acquire("u", now: ms) == .allowed {
            allowed += 1
        }
        // 3 at once, then one per 100 ms over 10 s.
        #expect(allowed == 3 + 99)
    }

    @Test func retryAfterIsExact() {
        var limiter = LiveRateLimiter(burst: 2, intervalMillis: 1000)
        _ = limiter.acquire("u", now: 0)
        _ = limiter.acquire("u", now: 0)
        guard case .limited(let wait) = limiter.acquire("u", now: 300) else {
            Issue.record("expected limited")
            return
        }
        #expect(wait == 700)
        #expect(limiter.acquire("u", now: 300 + wait - 1) != .allowed)
        #expect(limiter.acquire("u", now: 300 + wait) == .allowed)
    }

    @Test func keysAreIndependentAndRefusalsCostNothing() {
        var limiter = LiveRateLimiter(burst: 1, intervalMillis: 1000)
        #expect(limiter.acquire("a", now: 0) == .allowed)
        #expect(limiter.acquire("b", now: 0) == .allowed)
        for _ in 0..<10 { _ = limiter.acquire("a", now: 500) }
        #expect(limiter.acquire("a", now: 1000) == .allowed)
    }

    @Test func memoryStaysBoundedUnder100kUsers() {
        var limiter = LiveRateLimiter(burst: 5, intervalMillis: 500, maxKeys: 1000)
        var peak = 0
        for i in 0..<100_000 {
            // Everyone spends the whole burst at once: no bucket is full when eviction runs.
            let now = Int64(i / 100)
            for _ in 0..<5 { _ = limiter.acquire("user-\(i)", now: now) }
            peak = max(peak, limiter.count)
        }
        #expect(peak <= 1000)
        // The most recent (least refilled) users are still limited.
        #expect(limiter.acquire("user-99999", now: 999) != .allowed)
    }

    @Test func fullBucketsAreDroppedFirst() {
        var limiter = LiveRateLimiter(burst: 2, intervalMillis: 1000, maxKeys: 4)
        _ = limiter.acquire("busy", now: 0)
        _ = limiter.acquire("busy", now: 0)
        for user in ["a", "b", "c"] { _ = limiter.acquire(user, now: 0) }
        // At 1000 a, b, c have refilled (full), busy has not: adding "d" evicts the full ones.
        #expect(limiter.acquire("d", now: 1000) == .allowed)
        #expect(limiter.count == 2)
        #expect(limiter.tokens("busy", now: 1000) == 1)
    }
}

@Suite("Keyword filter")
struct LiveKeywordFilterTests {
    @Test func emptyFilterMatchesNothing() {
        #expect(!LiveKeywordFilter().matches("anything at all"))
        #expect(!LiveKeywordFilter(words: ["", "  "]).matches("anything"))
        #expect(LiveKeywordFilter(words: ["", "  "]).words.isEmpty)
    }

    @Test func caseInsensitiveSubstrings() {
        let filter = LiveKeywordFilter(words: ["Spam", " scam "])
        #expect(filter.matches("buy SPAM now"))
        #expect(filter.matches("antispammer"))
        #expect(filter.matches("ScAm"))
        #expect(!filter.matches("spa m"))
        #expect(!filter.matches("sca"))
    }

    @Test func unicodeLowercasingAndEquivalence() {
        let filter = LiveKeywordFilter(words: ["ÉCOLE", "ΣΟΦΙΑ", "赌博"])
        #expect(filter.matches("une école"))
        #expect(filter.matches("une e\u{301}cole"), "decomposed é matches precomposed")
        #expect(filter.matches("σοφια"))
        #expect(filter.matches("网上赌博平台"))
        #expect(!filter.matches("ecole"))
    }
}
