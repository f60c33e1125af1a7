import Determinism
import Foundation
import Testing

@Suite struct VirtualTimeTests {
    @Test func arithmeticSaturatesAndClamps() {
        let time = VirtualTime.milliseconds(5)
        #expect(time.nanoseconds == 5_000_000)
        #expect(time + .milliseconds(2) == .milliseconds(7))
        #expect(VirtualTime(nanoseconds: .max - 1) + .milliseconds(1) == VirtualTime(nanoseconds: .max))
        #expect(time - .milliseconds(2) == .milliseconds(3))
        #expect(VirtualTime.milliseconds(2) - time == .zero)
        var later = time
        later += .seconds(1)
        #expect(later == .milliseconds(1_005))

        let duration = VirtualDuration.milliseconds(3)
        #expect(duration + .milliseconds(4) == .milliseconds(7))
        #expect(VirtualDuration(nanoseconds: .max) + duration == VirtualDuration(nanoseconds: .max))
        #expect(duration - .milliseconds(4) == .zero)
        #expect(VirtualDuration.milliseconds(.max) == VirtualDuration(nanoseconds: .max))
        #expect(VirtualTime.milliseconds(.max) == VirtualTime(nanoseconds: .max))
    }

    @Test func secondsRoundToTheNearestNanosecond() {
        #expect(VirtualDuration.seconds(1.5).nanoseconds == 1_500_000_000)
        #expect(VirtualDuration.seconds(0.000_000_000_6).nanoseconds == 1)
        #expect(VirtualDuration.seconds(-1) == .zero)
        #expect(VirtualDuration.seconds(.nan) == .zero)
        #expect(VirtualDuration.seconds(1e30) == VirtualDuration(nanoseconds: .max))
        #expect(VirtualTime.seconds(2).nanoseconds == 2_000_000_000)
        #expect(VirtualTime.seconds(-2) == .zero)
        #expect(VirtualTime.milliseconds(1_500).seconds == 1.5)
        #expect(VirtualDuration.milliseconds(250).seconds == 0.25)
        // Scaling goes through seconds (gossip's suspicion and health multipliers).
        #expect(VirtualDuration.milliseconds(300) * 0.5 == .milliseconds(150))
        #expect(VirtualDuration.milliseconds(300) * (1.0 / 3.0) == .milliseconds(100))
    }

    @Test func ordersAndDescribes() {
        #expect(VirtualTime.zero < .milliseconds(1))
        #expect(VirtualDuration.milliseconds(2) > .milliseconds(1))
        #expect(VirtualTime.milliseconds(1_500).description == "1500.0ms")
        #expect(VirtualDuration(nanoseconds: 250_000).description == "0.25ms")
    }

    /// The coded form is the field name and the integer, as the replication types always had.
    @Test func codesAsNanoseconds() throws {
        let data = try JSONEncoder().encode(VirtualTime(nanoseconds: 42))
        #expect(String(decoding: data, as: UTF8.self) == #"{"nanoseconds":42}"#)
        let duration = try JSONDecoder().decode(VirtualDuration.self, from: Data(#"{"nanoseconds":7}"#.utf8))
        #expect(duration == VirtualDuration(nanoseconds: 7))
    }
}
