import Determinism
import Testing

@testable import Live

/// The red packet split over many seeds: exact sums, no empty share, the same split from the
/// same randomness, and no advantage in grabbing early.
@Suite("Red packets: the split")
struct RedPacketSplitTests {
    @Test("10,000 seeded splits: every share ≥ 1 cent, the sum is the total, the same seed gives the same split")
    func exactAndDeterministic() throws {
        var seeds = SplitMix64(seed: 14)
        for _ in 0..<10_000 {
            let seed = seeds.next()
            var pick = SplitMix64(seed: seed)
            let shares = Int.random(in: 1...RedPacketSplit.maxShares, using: &pick)
            let total = Int64.random(in: Int64(shares)...1_000_000, using: &pick)
            var a = SplitMix64(seed: seed &+ 1)
            var b = SplitMix64(seed: seed &+ 1)
            let amounts = try RedPacketSplit.split(total: total, shares: shares, using: &a)
            #expect(amounts.count == shares, "seed \(seed)")
            #expect(amounts.allSatisfy { $0 >= 1 }, "seed \(seed): \(amounts)")
            #expect(amounts.reduce(0, +) == total, "seed \(seed)")
            #expect(try RedPacketSplit.split(total: total, shares: shares, using: &b) == amounts, "seed \(seed)")
        }
    }

    @Test("the edges: one cent per share, one share, the most shares")
    func edges() throws {
        var random = SplitMix64(seed: 1)
        #expect(try RedPacketSplit.split(total: 200, shares: 200, using: &random) == Array(repeating: 1, count: 200))
        #expect(try RedPacketSplit.split(total: 999, shares: 1, using: &random) == [999])
        #expect(throws: RedPacketSplit.Refusal.totalBelowShares) {
            try RedPacketSplit.split(total: 9, shares: 10, using: &random)
        }
        #expect(throws: RedPacketSplit.Refusal.shareCount) {
            try RedPacketSplit.split(total: 1000, shares: 201, using: &random)
        }
        #expect(throws: RedPacketSplit.Refusal.shareCount) {
            try RedPacketSplit.split(total: 1000, shares: 0, using: &random)
        }
    }

    @Test("no advantage in grabbing early: each position's mean is the average, within 3%")
    func fairByPosition() throws {
        var random = SplitMix64(seed: 7)
        let shares = 10
        let total: Int64 = 10_000
        var sums = Array(repeating: 0.0, count: shares)
        let runs = 20_000
        for _ in 0..<runs {
            for (i, amount) in try RedPacketSplit.split(total: total, shares: shares, using: &random).enumerated() {
                sums[i] += Double(amount)
            }
        }
        let average = Double(total) / Double(shares)
        for (i, sum) in sums.enumerated() {
            let mean = sum / Double(runs)
            #expect(abs(mean - average) / average < 0.03, "position \(i): mean \(mean), average \(average)")
        }
    }
}
