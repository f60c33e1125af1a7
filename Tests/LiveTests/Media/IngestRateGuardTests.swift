import Testing

@testable import Live

@Suite("Ingest bitrate ceiling")
struct IngestRateGuardTests {
    static let second: UInt64 = 1_000_000_000

    @Test func aStreamAtTheCeilingIsNeverCut() {
        var rate = IngestRateGuard(bitsPerSecond: 8_000_000)  // 1 MB/s
        var cut = 0
        for tick in 1...600 where !rate.admit(bytes: 100_000, atNanoseconds: UInt64(tick) * Self.second / 10) {
            cut += 1  // 60 s of 100 kB every 100 ms
        }
        #expect(cut == 0)
    }

    @Test func aBurstWithinTheWindowPassesAndAFloodIsCut() {
        var rate = IngestRateGuard(bitsPerSecond: 8_000_000)
        let burst = rate.admit(bytes: 4_000_000, atNanoseconds: 0)
        #expect(burst, "4 s worth at once fits the 5 s bucket")
        var cut = false
        for tick in 1...100 where !cut {  // then 2 MB/s
            cut = !rate.admit(bytes: 200_000, atNanoseconds: UInt64(tick) * Self.second / 10)
        }
        #expect(cut, "twice the ceiling must be cut within the window")
    }

    @Test func aSingleChunkOverTheWholeWindowIsCut() {
        var rate = IngestRateGuard(bitsPerSecond: 1_000_000)
        let admitted = rate.admit(bytes: 1_000_000, atNanoseconds: 0)
        #expect(!admitted)
    }
}
