import Determinism
import Testing

@Suite struct SplitMix64Tests {
    /// The reference outputs of SplitMix64: every simulation seed's meaning depends on them (the
    /// gossip and replication simulations' traces replay exactly as with the generators this one
    /// replaced), so any change to the algorithm fails here first.
    @Test func knownOutputs() {
        var zero = SplitMix64(seed: 0)
        let expected: [UInt64] = [
            0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F, 0xF88B_B8A8_724C_81EC,
            0x1B39_896A_51A8_749B,
        ]
        #expect((0..<5).map { _ in zero.next() } == expected)
        var answer = SplitMix64(seed: 42)
        #expect(
            (0..<3).map { _ in answer.next() } == [0xBDD7_3226_2FEB_6E95, 0x28EF_E333_B266_F103, 0x4752_6757_130F_9F52]
        )
    }

    @Test func stateAdvancesByTheGoldenGamma() {
        var random = SplitMix64(seed: 7)
        _ = random.next()
        _ = random.next()
        #expect(random.state == 7 &+ 2 &* 0x9E37_79B9_7F4A_7C15)
    }

    @Test func unitIsTheTop53BitsOfOneDraw() {
        var random = SplitMix64(seed: 0)
        let unit = random.nextUnit()
        #expect(unit == Double(UInt64(0xE220_A839_7B1D_CDAF) >> 11) * 0x1.0p-53)
        #expect(random == SplitMix64(seed: 0x9E37_79B9_7F4A_7C15))
        for _ in 0..<10_000 {
            let value = random.nextUnit()
            #expect(value >= 0 && value < 1)
        }
    }

    @Test func splitSeedsAChildWithOneDraw() {
        var parent = SplitMix64(seed: 3)
        var copy = parent
        var child = parent.split()
        var expected = SplitMix64(seed: copy.next())
        #expect(parent == copy)
        #expect(child.next() == expected.next())
    }

    @Test func durationsStayInTheirRange() {
        var random = SplitMix64(seed: 11)
        let low = VirtualDuration.milliseconds(50)
        let high = VirtualDuration.milliseconds(100)
        for _ in 0..<10_000 {
            let drawn = random.duration(from: low, to: high)
            #expect(drawn >= low && drawn <= high)
        }
        // One draw, reduced modulo the span plus one (what the election timeouts have always used).
        var copy = SplitMix64(seed: 11)
        var again = SplitMix64(seed: 11)
        let span = high.nanoseconds - low.nanoseconds
        #expect(again.duration(from: low, to: high).nanoseconds == low.nanoseconds + copy.next() % (span + 1))
        // An empty range gives `low` without drawing; the widest range does not trap.
        let before = random
        #expect(random.duration(from: high, to: low) == high)
        #expect(random == before)
        _ = random.duration(from: .zero, to: VirtualDuration(nanoseconds: .max))
    }
}
