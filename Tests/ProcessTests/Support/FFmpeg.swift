import Foundation

/// ffmpeg as the broadcaster and as the player.
enum FFmpeg {
    /// A synthetic test pattern (testsrc2 + sine, x264 with a 1 s GOP, AAC) pushed in real time
    /// as MPEG-TS to `url` for `seconds`, as a broadcaster app would.
    /// With an `rtmp://` URL (`…/live/<stream key>`) it publishes FLV over RTMP, as OBS does.
    static func pushArguments(to url: String, seconds: Double) -> [String] {
        [
            "-hide_banner", "-loglevel", "error", "-re",
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
            "-t", String(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
            "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "64k",
        ] + (url.hasPrefix("rtmp://") ? ["-f", "flv", url] : ["-f", "mpegts", "-method", "POST", url])
    }

    /// Pushes to `url` for `seconds` and waits for the end.
    static func push(to url: String, seconds: Double) async throws -> ToolResult {
        try await Tools.run("ffmpeg", pushArguments(to: url, seconds: seconds), timeout: seconds + 30)
    }

    /// Starts pushing to `url` for up to `seconds` and returns at once.
    static func startPush(to url: String, seconds: Double) throws -> BackgroundTool {
        try BackgroundTool("ffmpeg", pushArguments(to: url, seconds: seconds))
    }

    /// Decodes `seconds` of `url` (or fewer: `frames` video frames) with ffmpeg, giving up after
    /// 5 s without data; returns decoded video frames and ffmpeg's errors.
    static func decode(_ url: String, seconds: Double, frames: Int? = nil) async throws -> (frames: Int, errors: String)
    {
        var output = ["-t", String(seconds), "-map", "0:v:0"]
        if let frames { output += ["-frames:v", String(frames)] }
        let result = try await Tools.run(
            "ffmpeg",
            ["-hide_banner", "-v", "error", "-stats", "-rw_timeout", "5000000", "-i", url] + output + [
                "-f", "null", "-",
            ],
            timeout: seconds + 30
        )
        // -stats prints "frame=   50 fps=..." progress lines on stderr; errors are the other lines.
        let lines = result.stderr.split(whereSeparator: { $0 == "\n" || $0 == "\r" })
        let decoded =
            lines.compactMap { line -> Int? in
                guard let r = line.range(of: "frame=") else { return nil }
                return Int(line[r.upperBound...].trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
            }.last ?? 0
        let errors = lines.filter { !$0.contains("frame=") && !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        return (decoded, errors.joined(separator: "\n") + (result.status == 0 ? "" : "\nexit \(result.status)"))
    }

    /// The duration ffprobe reads for `url` (a replay playlist), 0 when it reads none, and its errors.
    static func duration(of url: String) async throws -> (seconds: Double, errors: String) {
        let probe = try await Tools.run(
            "ffprobe",
            ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", url],
            timeout: 60
        )
        return (Double(probe.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, probe.stderr)
    }
}
