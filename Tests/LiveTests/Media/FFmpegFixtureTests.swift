import Foundation
import Testing

@testable import Live

/// The media core against a real encoder's output: libx264 + AAC from ffmpeg, fed in random
/// pieces, with ffprobe as the judge of whether a segment decodes on its own.
@Suite("Media: real ffmpeg stream")
struct FFmpegFixtureTests {
    static let ffmpeg = "/usr/bin/ffmpeg"
    static let ffprobe = "/usr/bin/ffprobe"

    @Test func keyframesSegmentsAndGOPCacheOfARealStream() throws {
        let files = FileManager.default
        guard files.isExecutableFile(atPath: Self.ffmpeg), files.isExecutableFile(atPath: Self.ffprobe) else {
            Issue.record(
                "ffmpeg and ffprobe must be installed (Tests/run installs them); the real-stream test did not run"
            )
            return
        }
        let dir = files.temporaryDirectory.appendingPathComponent("qunbo-media-\(UUID().uuidString)")
        try files.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? files.removeItem(at: dir) }

        let source = dir.appendingPathComponent("source.ts")
        let encode = try runTool(
            Self.ffmpeg,
            [
                "-hide_banner", "-loglevel", "error", "-nostdin",
                "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
                "-f", "lavfi", "-i", "sine",
                "-t", "6", "-c:v", "libx264", "-preset", "ultrafast",
                "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
                "-c:a", "aac", "-f", "mpegts", source.path,
            ]
        )
        try #require(encode.status == 0, "ffmpeg failed: \(encode.stderr)")
        let bytes = [UInt8](try Data(contentsOf: source))

        var rng = LiveTestRNG(seed: 42)
        var demuxer = TSDemuxer()
        var segmenter = HLSSegmenter(targetDuration: 2)
        var cache = GOPCache()
        var keyframePTS: [UInt64?] = []
        var segments: [HLSSegment] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + Int.random(in: 1...6000, using: &rng))
            for chunk in demuxer.feed(bytes[offset..<end]) {
                if chunk.keyframe { keyframePTS.append(chunk.pts) }
                cache.append(chunk)
                segments += segmenter.append(chunk, programInfo: demuxer.programInfo)
            }
            #expect(demuxer.heldBytes <= 2 * 188)
            offset = end
        }
        if let tail = segmenter.finish(lastPTS: demuxer.endPTS) { segments.append(tail) }

        // However the body is split, the output is the same as from one piece.
        var whole = TSDemuxer()
        let wholeChunks = whole.feed(bytes)
        #expect(wholeChunks.filter(\.keyframe).map(\.pts) == keyframePTS)
        #expect(wholeChunks.flatMap(\.bytes) == bytes)

        // Without the muxer's random_access_indicator the same keyframes are found from the
        // H.264 NAL units in each PES's first packet.
        var stripped = bytes
        for start in stride(from: 0, to: stripped.count, by: 188)
        where stripped[start + 3] & 0x20 != 0 && stripped[start + 4] > 0 {
            stripped[start + 5] &= ~0x40
        }
        var nalOnly = TSDemuxer()
        let nalChunks = nalOnly.feed(stripped)
        #expect(nalChunks.filter(\.keyframe).map(\.pts) == keyframePTS)

        let pts = keyframePTS.compactMap { $0 }
        let steps = zip(pts, pts.dropFirst()).map { MediaClock.seconds(from: $0, to: $1) }
        let durations = segments.map(\.duration)
        let total = durations.reduce(0, +)
        print(
            "media fixture: \(bytes.count) bytes, \(demuxer.packets) packets, keyframes \(demuxer.keyframes), "
                + "keyframe steps \(steps), segment durations \(durations), total \(total)"
        )

        #expect(demuxer.bytesDiscarded == 0 && demuxer.resyncs == 0 && demuxer.malformed == 0)
        #expect(demuxer.packets * 188 == bytes.count)
        #expect(demuxer.videoCodec == .h264)
        #expect(demuxer.audioPIDs.count == 1)
        #expect((5...7).contains(demuxer.keyframes), "one keyframe per second of 6 s")
        #expect(pts.count == keyframePTS.count, "every keyframe has a PTS")
        #expect(steps.allSatisfy { abs($0 - 1) < 0.05 }, "keyframes ~1 s apart, increasing: \(steps)")
        #expect(segments.count >= 3)
        #expect(durations.dropLast().allSatisfy { abs($0 - 2) < 0.05 }, "\(durations)")
        #expect(abs(total - 6) <= 0.3, "total \(total) within 5% of 6 s")
        #expect(segments.map(\.sequence) == Array(0..<segments.count))

        // Each segment must decode alone: PAT/PMT first, then a keyframe.
        for (i, segment) in segments.enumerated() {
            // The PAT/PMT current when the segment began: the latest ones but for continuity counters.
            let info = demuxer.programInfo ?? []
            #expect(withoutContinuity(Array(segment.bytes.prefix(info.count))) == withoutContinuity(info))
            let file = dir.appendingPathComponent("seg\(i).ts")
            try Data(segment.bytes).write(to: file)
        }
        let probe = try probeVideo(dir.appendingPathComponent("seg0.ts"))
        #expect(probe.status == 0)
        #expect(probe.stderr.isEmpty, "ffprobe complained: \(probe.stderr)")
        #expect(probe.hasVideo)
        #expect(probe.frames >= 45, "first segment should hold ~50 frames, decoded \(probe.frames)")

        // A viewer joining at the end gets PAT/PMT and the last GOP, and can decode it.
        let start = cache.startChunks(programInfo: demuxer.programInfo)
        #expect(start.first == demuxer.programInfo)
        let joined = dir.appendingPathComponent("join.ts")
        try Data(start.flatMap { $0 }).write(to: joined)
        let joinProbe = try probeVideo(joined)
        #expect(joinProbe.status == 0 && joinProbe.hasVideo)
        #expect(joinProbe.stderr.isEmpty, "ffprobe complained: \(joinProbe.stderr)")
        #expect(joinProbe.frames >= 20, "last GOP should hold ~25 frames, decoded \(joinProbe.frames)")
        print("media fixture: seg0 decodes \(probe.frames) frames; GOP-cache start decodes \(joinProbe.frames) frames")
    }

    private func withoutContinuity(_ packets: [UInt8]) -> [UInt8] {
        var packets = packets
        for i in stride(from: 3, to: packets.count, by: 188) { packets[i] &= 0xF0 }
        return packets
    }

    private struct Probe {
        var status: Int32
        var stderr: String
        var hasVideo: Bool
        var frames: Int
    }

    /// Decodes every video frame (`-count_frames`), which is stricter than probing headers.
    private func probeVideo(_ file: URL) throws -> Probe {
        let result = try runTool(
            Self.ffprobe,
            [
                "-v", "error", "-count_frames", "-select_streams", "v:0",
                "-show_entries", "stream=codec_type,nb_read_frames", "-of", "csv=p=0", file.path,
            ]
        )
        let fields = result.stdout.split(whereSeparator: { $0 == "," || $0.isNewline })
        return Probe(
            status: result.status,
            stderr: result.stderr,
            hasVideo: fields.first == "video",
            frames: fields.count > 1 ? Int(fields[1]) ?? 0 : 0
        )
    }
}
