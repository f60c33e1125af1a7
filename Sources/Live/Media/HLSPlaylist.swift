/// HLS media playlists (RFC 8216), built as plain strings: no Foundation in the core, and the
/// exact text is what the tests pin down.
public enum HLSPlaylist {
    /// A live playlist of the current window. `#EXT-X-TARGETDURATION` is the ceiling of the
    /// longest segment, and never below the configured target so that it stays constant as the
    /// window slides (RFC 8216 §6.2.1 forbids it to change). `ended` appends `#EXT-X-ENDLIST`
    /// so players stop polling once the session is over.
    public static func live(
        window: [HLSSegment],
        targetDuration: Double,
        ended: Bool = false,
        uri: (Int) -> String
    ) -> String {
        let target = max(ceilSeconds(targetDuration), window.map { ceilSeconds($0.duration) }.max() ?? 0)
        var text = "#EXTM3U\n#EXT-X-VERSION:3\n"
        text += "#EXT-X-TARGETDURATION:\(target)\n"
        text += "#EXT-X-MEDIA-SEQUENCE:\(window.first?.sequence ?? 0)\n"
        for segment in window {
            text += "#EXTINF:\(formatSeconds(segment.duration)),\n\(uri(segment.sequence))\n"
        }
        if ended { text += "#EXT-X-ENDLIST\n" }
        return text
    }

    /// A complete recording: every segment, `#EXT-X-PLAYLIST-TYPE:VOD` and `#EXT-X-ENDLIST`.
    public static func vod(segments: [(uri: String, duration: Double)]) -> String {
        let target = segments.map { ceilSeconds($0.duration) }.max() ?? 1
        var text = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:VOD\n"
        text += "#EXT-X-TARGETDURATION:\(target)\n#EXT-X-MEDIA-SEQUENCE:0\n"
        for segment in segments {
            text += "#EXTINF:\(formatSeconds(segment.duration)),\n\(segment.uri)\n"
        }
        text += "#EXT-X-ENDLIST\n"
        return text
    }

    /// Whole milliseconds, the precision the playlist states.
    static func milliseconds(_ seconds: Double) -> Int {
        guard seconds.isFinite, seconds > 0 else { return 0 }
        return Int((seconds * 1000).rounded())
    }

    /// The ceiling of a duration as written (rounded to ms first, so 2.0000001 s is 2, not 3).
    static func ceilSeconds(_ seconds: Double) -> Int {
        (milliseconds(seconds) + 999) / 1000
    }

    /// `d.ddd`, without Foundation's formatters.
    static func formatSeconds(_ seconds: Double) -> String {
        let ms = milliseconds(seconds)
        let fraction = String(ms % 1000)
        return "\(ms / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}
