import Foundation
import Testing

@testable import Live

/// RTMP's media (FLV tags) into the pipeline's MPEG-TS, judged by ffprobe and ffmpeg's decoder
/// and by the pipeline's own demuxer and fMP4 muxer: what OBS or `ffmpeg -f flv` publish must
/// come out as a stream every viewer route can serve.
@Suite("RTMP media: FLV tags to MPEG-TS")
struct FLVToTSTests {
    static let ffmpeg = "/usr/bin/ffmpeg"
    static let ffprobe = "/usr/bin/ffprobe"

    /// The tags of an FLV file: (type, timestamp ms, body).
    private func tags(_ flv: [UInt8]) throws -> [(type: UInt8, timestamp: UInt32, body: [UInt8])] {
        try #require(flv.count >= 13 && flv[0..<3] == [0x46, 0x4C, 0x56])
        var out: [(UInt8, UInt32, [UInt8])] = []
        var i = 13
        while i + 11 <= flv.count {
            let size = Int(flv[i + 1]) << 16 | Int(flv[i + 2]) << 8 | Int(flv[i + 3])
            let ts = UInt32(flv[i + 7]) << 24 | UInt32(flv[i + 4]) << 16 | UInt32(flv[i + 5]) << 8 | UInt32(flv[i + 6])
            try #require(i + 11 + size <= flv.count)
            out.append((flv[i], ts, Array(flv[(i + 11)..<(i + 11 + size)])))
            i += 11 + size + 4
        }
        return out
    }

    @Test("an ffmpeg FLV (H.264 with B-frames + AAC) becomes TS that ffprobe and the pipeline read whole")
    func flvFromFFmpeg() throws {
        let files = FileManager.default
        guard files.isExecutableFile(atPath: Self.ffmpeg), files.isExecutableFile(atPath: Self.ffprobe) else {
            Issue.record("ffmpeg and ffprobe must be installed (Tests/run installs them); the FLV test did not run")
            return
        }
        let dir = files.temporaryDirectory.appendingPathComponent("qunbo-flv-\(UUID().uuidString)")
        try files.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? files.removeItem(at: dir) }
        let source = dir.appendingPathComponent("in.flv")
        let encoded = try runTool(
            Self.ffmpeg,
            [
                "-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi",
                "-i", "sine=sample_rate=44100", "-t", "4", "-c:v", "libx264", "-preset", "veryfast", "-bf", "2",
                "-g", "50", "-c:a", "aac", "-f", "flv", source.path,
            ]
        )
        try #require(encoded.status == 0, "ffmpeg failed: \(encoded.stderr)")

        var converter = FLVToTS()
        var ts: [UInt8] = []
        for tag in try tags([UInt8](try Data(contentsOf: source))) {
            switch tag.type {
            case 9: ts += try converter.video(tag.body, timestamp: tag.timestamp)
            case 8: ts += try converter.audio(tag.body, timestamp: tag.timestamp)
            default: continue  // script data (onMetaData)
            }
        }
        #expect(converter.hasVideoConfig && converter.hasAudioConfig)
        #expect(ts.count % 188 == 0)
        let file = dir.appendingPathComponent("out.ts")
        try Data(ts).write(to: file)

        let (lines, stderr) = try probeFrames(file)
        #expect(stderr.isEmpty, "ffprobe complained: \(stderr)")
        #expect(lines.first == "h264,100", "4 s of 25 fps video: \(lines)")
        #expect(lines.dropFirst().first?.hasPrefix("aac,") == true)
        let decode = try runTool(Self.ffmpeg, ["-v", "error", "-nostdin", "-i", file.path, "-f", "null", "-"])
        #expect(decode.status == 0 && decode.stderr.isEmpty, "ffmpeg's decoder complained: \(decode.stderr)")

        // The pipeline's demuxer finds the two keyframes (a GOP of 50), and the fMP4 muxer
        // makes every frame of it.
        var demuxer = TSDemuxer()
        let chunks = demuxer.feed(ts)
        #expect(chunks.filter(\.keyframe).count == 2)
        #expect(demuxer.malformed == 0 && demuxer.resyncs == 0)
        var muxer = FMP4Muxer(
            videoPID: demuxer.videoPID,
            videoCodec: demuxer.videoCodec,
            audioPID: demuxer.audioPIDs.first
        )
        var fragments = 0
        for chunk in chunks {
            for case .fragment in muxer.feed(chunk) { fragments += 1 }
        }
        for case .fragment in muxer.finish() { fragments += 1 }
        #expect(fragments == 100)
        #expect(muxer.skipped == 0)
    }

    @Test("malformed tags are errors that change nothing; other codecs are named")
    func badTags() throws {
        var converter = FLVToTS()
        #expect(throws: FLVError.malformed("video tag of 2 bytes")) { try converter.video([0x17, 0], timestamp: 0) }
        #expect(throws: FLVError.unsupportedVideoCodec(12)) { try converter.video([0x1C, 0, 0, 0, 0], timestamp: 0) }
        #expect(throws: FLVError.unsupportedAudioFormat(2)) { try converter.audio([0x2F, 1, 0], timestamp: 0) }
        // A configuration record whose SPS length points past its end.
        #expect(throws: FLVError.self) {
            try converter.video([0x17, 0, 0, 0, 0, 1, 100, 0, 40, 0xFF, 0xE1, 0x10, 0x00, 0x67], timestamp: 0)
        }
        #expect(!converter.hasVideoConfig)
        // NAL units before any configuration are dropped, not muxed undecodable.
        #expect(try converter.video([0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65], timestamp: 0).isEmpty)
        // A NAL length past the tag.
        _ = try converter.video(
            [0x17, 0, 0, 0, 0, 1, 100, 0, 40, 0xFF, 0xE1, 0, 2, 0x67, 0x64, 1, 0, 1, 0x68],
            timestamp: 0
        )
        #expect(converter.hasVideoConfig)
        #expect(throws: FLVError.malformed("NAL length 255 past the tag")) {
            try converter.video([0x17, 1, 0, 0, 0, 0, 0, 0, 0xFF, 0x65], timestamp: 0)
        }
    }
}
