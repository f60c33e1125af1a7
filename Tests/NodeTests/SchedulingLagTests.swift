import Testing

@testable import Node

/// `LagWindow`: what a node concludes from its own late wake-ups.
@Suite struct SchedulingLagTests {
    let settings = SchedulingLag.Settings()

    @Test func onTimeWakeUpsStretchNothing() {
        var window = LagWindow()
        let start = ContinuousClock.now
        for i in 0..<30 {
            window.record(late: .milliseconds(i % 15), at: start + .milliseconds(100 * i), settings: settings)
        }
        #expect(window.stretch(at: start + .seconds(3), settings: settings) == 1)
        #expect(window.worst(at: start + .seconds(3), settings: settings) == .zero)
    }

    @Test func aLateWakeUpStretchesForTheWindowThenExpires() {
        var window = LagWindow()
        let start = ContinuousClock.now
        window.record(late: .milliseconds(600), at: start, settings: settings)
        // 600 ms late with a 300 ms unit: timeouts three times as long.
        #expect(window.stretch(at: start + .seconds(1), settings: settings) == 3)
        window.record(late: .milliseconds(5), at: start + .seconds(2), settings: settings)
        #expect(window.stretch(at: start + .seconds(2), settings: settings) == 3)
        // Out of the 3 s window: healthy again.
        window.record(late: .milliseconds(5), at: start + .milliseconds(3_100), settings: settings)
        #expect(window.stretch(at: start + .milliseconds(3_100), settings: settings) == 1)
    }

    @Test func theStretchIsCapped() {
        var window = LagWindow()
        let start = ContinuousClock.now
        window.record(late: .seconds(30), at: start, settings: settings)
        #expect(window.stretch(at: start, settings: settings) == settings.maxStretch)
    }
}
