import Testing

@testable import Live

@Suite("RFC 3339")
struct LiveRFC3339Tests {
    static let known: [(String, Int64)] = [
        ("1970-01-01T00:00:00Z", 0),
        ("2026-11-25T10:00:00Z", 1_795_600_800_000),
        ("2000-02-29T00:00:00Z", 951_782_400_000),
        ("2024-02-29T12:34:56.789Z", 1_709_210_096_789),
        ("1900-03-01T00:00:00Z", -2_203_891_200_000),
        ("1600-02-29T23:59:59Z", -11_670_912_001_000),
        ("1969-12-31T23:59:59.999Z", -1),
        ("0001-01-01T00:00:00Z", -62_135_596_800_000),
        ("9999-12-31T23:59:59.999Z", 253_402_300_799_999),
        ("2026-11-25T10:00:00.005Z", 1_795_600_800_005),
    ]

    @Test func formatsKnownValues() {
        for (text, millis) in Self.known {
            #expect(LiveRFC3339.format(millis: millis) == text)
        }
    }

    @Test func parsesKnownValues() {
        for (text, millis) in Self.known {
            #expect(LiveRFC3339.parse(text) == millis, "\(text)")
        }
    }

    @Test func parsesOffsetsFractionsAndLowerCase() {
        let t = Int64(1_795_600_800_000)
        #expect(LiveRFC3339.parse("2026-11-25T18:00:00+08:00") == t)
        #expect(LiveRFC3339.parse("2026-11-25T04:30:00-05:30") == t)
        #expect(LiveRFC3339.parse("2026-11-25t10:00:00z") == t)
        #expect(LiveRFC3339.parse("2026-11-25T10:00:00.5Z") == t + 500)
        #expect(LiveRFC3339.parse("2026-11-25T10:00:00.123456789Z") == t + 123)
        #expect(LiveRFC3339.parse("2026-11-25T10:00:00+00:00") == t)
    }

    @Test func refusesMalformedAndImpossibleDates() {
        for bad in [
            "", "2026-11-25", "2026-11-25T10:00:00", "2026-11-25 10:00:00Z", "2026-13-01T00:00:00Z",
            "2026-00-01T00:00:00Z", "2026-04-31T00:00:00Z", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
            "2100-02-29T00:00:00Z", "2026-11-25T24:00:00Z", "2026-11-25T10:60:00Z", "2026-12-31T23:59:60Z",
            "2026-11-25T10:00:00.Z", "2026-11-25T10:00:00+8:00", "2026-11-25T10:00:00+24:00",
            "2026-11-25T10:00:00Zjunk", "26-11-25T10:00:00Z", "2026-11-25T10:00:00ZZ", "２026-11-25T10:00:00Z",
        ] {
            #expect(LiveRFC3339.parse(bad) == nil, "\(bad) must be refused")
        }
        #expect(LiveRFC3339.parse("2000-02-29T00:00:00Z") != nil)
        #expect(LiveRFC3339.parse("2024-02-29T00:00:00Z") != nil)
    }

    @Test func roundTripsAcrossTheRange() {
        var rng = LiveTestRNG(seed: 7)
        for _ in 0..<5000 {
            let millis = Int64.random(in: -62_135_596_800_000...253_402_300_799_999, using: &rng)
            #expect(LiveRFC3339.parse(LiveRFC3339.format(millis: millis)) == millis)
        }
    }

    @Test func everyDayOfFourHundredYearsIsConsistent() {
        // A full Gregorian cycle: day counts and dates agree both ways, and dates advance by one.
        var previous = LiveRFC3339.civil(fromDays: -1)
        var mismatches: [Int64] = []
        for day in Int64(0)..<146_097 {
            let date = LiveRFC3339.civil(fromDays: day)
            let back = LiveRFC3339.daysFromCivil(year: date.year, month: date.month, day: date.day)
            let advances = date.day == 1 ? previous.day >= 28 : date.day == previous.day + 1
            if back != day || !advances { mismatches.append(day) }
            previous = date
        }
        #expect(mismatches.isEmpty)
    }
}
