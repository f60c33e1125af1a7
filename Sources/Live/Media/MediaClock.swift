/// Arithmetic on MPEG-TS 90 kHz timestamps, which are 33 bits wide and wrap about every 26.5
/// hours: a long live session crosses the wrap, so durations are never plain subtractions.
public enum MediaClock {
    /// Ticks per second of PTS/DTS.
    public static let hz: UInt64 = 90_000
    /// Timestamps are taken modulo this.
    public static let wrap: UInt64 = 1 << 33

    /// `to − from` in ticks, taking the shorter way round the 33-bit circle: positive when `to`
    /// is later, negative when it is earlier (half the circle, ~13 h, is the horizon).
    public static func delta(from: UInt64, to: UInt64) -> Int64 {
        let forward = (to &- from) & (wrap - 1)
        return forward < wrap / 2 ? Int64(forward) : Int64(forward) - Int64(wrap)
    }

    /// `delta` in seconds.
    public static func seconds(from: UInt64, to: UInt64) -> Double {
        Double(delta(from: from, to: to)) / Double(hz)
    }

    /// `pts + ticks` on the 33-bit circle.
    public static func advance(_ pts: UInt64, by ticks: UInt64) -> UInt64 {
        (pts &+ ticks) & (wrap - 1)
    }
}
