import Foundation
import Testing

@testable import Live

/// The fMP4 muxer against a real encoder's output, with ffprobe and ffmpeg's decoder as judges:
/// the init segment and fragments must describe the stream ffmpeg encoded (codecs, size,
/// frame count, duration) and decode without a complaint, also from a keyframe mid-stream.
@Suite("Media: fragmented MP4")
struct FMP4MuxerTests {
    static let ffmpeg = "/usr/bin/ffmpeg"
    static let ffprobe = "/usr/bin/ffprobe"

    /// Encodes `seconds` of test picture and tone to MPEG-TS with ffmpeg.
    private func encode(size: String, seconds: Int, bFrames: Int, audio: Bool = true, in dir: URL) throws -> [UInt8] {
        let source = dir.appendingPathComponent("source-\(size)-\(bFrames)-\(audio).ts")
        var arguments = [
            "-hide_banner", "-loglevel", "error", "-nostdin",
            "-f", "lavfi", "-i", "testsrc2=size=\(size):rate=25",
        ]
        if audio { arguments += ["-f", "lavfi", "-i", "sine=sample_rate=48000"] }
        arguments += [
            "-t", "\(seconds)", "-c:v", "libx264", "-preset", "veryfast", "-bf", "\(bFrames)",
            "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
        ]
        if audio { arguments += ["-c:a", "aac"] }
        arguments += ["-f", "mpegts", source.path]
        let result = try runTool(Self.ffmpeg, arguments)
        try #require(result.status == 0, "ffmpeg failed: \(result.stderr)")
        return [UInt8](try Data(contentsOf: source))
    }

    /// Demuxes `bytes` in random pieces and muxes every chunk, as the pipeline will.
    private func mux(_ bytes: [UInt8], seed: UInt64) -> (pieces: [FMP4Piece], muxer: FMP4Muxer) {
        var rng = LiveTestRNG(seed: seed)
        var demuxer = TSDemuxer()
        var muxer: FMP4Muxer?
        var pieces: [FMP4Piece] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + Int.random(in: 1...6000, using: &rng))
            for chunk in demuxer.feed(bytes[offset..<end]) {
                if muxer == nil, demuxer.videoPID != nil || !demuxer.audioPIDs.isEmpty {
                    muxer = FMP4Muxer(
                        videoPID: demuxer.videoPID,
                        videoCodec: demuxer.videoCodec,
                        audioPID: demuxer.audioPIDs.first
                    )
                }
                pieces += muxer?.feed(chunk) ?? []
            }
            offset = end
        }
        pieces += muxer?.finish() ?? []
        return (pieces, muxer!)
    }

    private struct Stream: Decodable {
        var codec_type: String
        var codec_name: String
        var width: Int?
        var height: Int?
        var sample_rate: String?
        var nb_read_frames: String?
        var duration: String?
    }

    private struct Probe: Decodable { var streams: [Stream] }

    private func probe(_ file: URL) throws -> (streams: [Stream], stderr: String) {
        let result = try runTool(
            Self.ffprobe,
            [
                "-v", "error", "-count_frames", "-show_entries",
                "stream=codec_type,codec_name,width,height,sample_rate,nb_read_frames,duration", "-of", "json",
                file.path,
            ]
        )
        try #require(result.status == 0, "ffprobe failed: \(result.stderr)")
        return (try JSONDecoder().decode(Probe.self, from: Data(result.stdout.utf8)).streams, result.stderr)
    }

    /// Decodes the whole file with ffmpeg; anything it says at level error is a defect.
    private func decodeErrors(_ file: URL) throws -> String {
        let result = try runTool(Self.ffmpeg, ["-v", "error", "-nostdin", "-i", file.path, "-f", "null", "-"])
        return result.status == 0 ? result.stderr : "exit \(result.status): \(result.stderr)"
    }

    private func write(_ pieces: some Sequence<FMP4Piece>, to file: URL) throws {
        var bytes: [UInt8] = []
        for piece in pieces {
            switch piece {
            case .initSegment(let b): bytes += b
            case .fragment(let b, _): bytes += b
            }
        }
        try Data(bytes).write(to: file)
    }

    private func tools() -> Bool {
        let files = FileManager.default
        guard files.isExecutableFile(atPath: Self.ffmpeg), files.isExecutableFile(atPath: Self.ffprobe) else {
            Issue.record("ffmpeg and ffprobe must be installed (Tests/run installs them); the fMP4 test did not run")
            return false
        }
        return true
    }

    private func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qunbo-fmp4-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test(
        "H.264 + AAC from ffmpeg: ffprobe reads the codecs, the size after cropping, every frame and the duration",
        arguments: [("320x240", 0), ("642x362", 2)]
    )
    func wholeStream(size: String, bFrames: Int) throws {
        guard tools() else { return }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bytes = try encode(size: size, seconds: 4, bFrames: bFrames, in: dir)
        let (pieces, muxer) = mux(bytes, seed: 7)

        guard case .initSegment = pieces.first else {
            Issue.record("the first piece must be the init segment")
            return
        }
        #expect(pieces.filter { if case .initSegment = $0 { true } else { false } }.count == 1)
        let fragments = pieces.compactMap { if case .fragment(_, let key) = $0 { key } else { nil } }
        #expect(fragments.first == true, "the first fragment starts at a keyframe")
        #expect(fragments.filter { $0 }.count == 4, "one keyframe per second of a 4 s stream")
        #expect(muxer.skipped == 0)

        let file = dir.appendingPathComponent("out.mp4")
        try write(pieces, to: file)
        let (streams, stderr) = try probe(file)
        #expect(stderr.isEmpty, "ffprobe complained: \(stderr)")
        let video = try #require(streams.first { $0.codec_type == "video" })
        let audio = try #require(streams.first { $0.codec_type == "audio" })
        let dims = size.split(separator: "x").map { Int($0)! }
        #expect(video.codec_name == "h264")
        #expect(video.width == dims[0] && video.height == dims[1])
        #expect(video.nb_read_frames == "100", "4 s at 25 fps")
        #expect(audio.codec_name == "aac")
        #expect(audio.sample_rate == "48000")
        let audioFrames = Int(audio.nb_read_frames ?? "") ?? 0
        // 4 s of 48 kHz in 1,024-sample frames is 187.5; the encoder's priming adds one or two.
        #expect((186...190).contains(audioFrames), "audio frames: \(audioFrames)")
        let duration = Double(video.duration ?? "") ?? 0
        #expect(abs(duration - 4.0) < 0.05, "video duration \(duration) s")
        let errors = try decodeErrors(file)
        #expect(errors.isEmpty, "ffmpeg's decoder complained: \(errors)")
    }

    @Test("a viewer joining mid-stream: the init segment and the fragments from a later keyframe decode alone")
    func joinAtAKeyframe() throws {
        guard tools() else { return }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (pieces, muxer) = mux(try encode(size: "320x240", seconds: 3, bFrames: 2, in: dir), seed: 11)
        let keyframes = pieces.indices.filter { if case .fragment(_, true) = pieces[$0] { true } else { false } }
        try #require(keyframes.count == 3)
        let initSegment = try #require(muxer.initSegment)
        let file = dir.appendingPathComponent("join.mp4")
        try write([.initSegment(initSegment)] + pieces[keyframes[1]...], to: file)
        let (streams, stderr) = try probe(file)
        #expect(stderr.isEmpty, "ffprobe complained: \(stderr)")
        #expect(streams.first { $0.codec_type == "video" }?.nb_read_frames == "50", "the last two GOPs")
        let errors = try decodeErrors(file)
        #expect(errors.isEmpty, "ffmpeg's decoder complained: \(errors)")
    }

    @Test("video only and audio only streams are muxed with the one track they have")
    func singleTrack() throws {
        guard tools() else { return }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (videoOnly, _) = mux(try encode(size: "320x240", seconds: 2, bFrames: 0, audio: false, in: dir), seed: 3)
        let videoFile = dir.appendingPathComponent("video.mp4")
        try write(videoOnly, to: videoFile)
        let videoStreams = try probe(videoFile).streams
        #expect(videoStreams.map(\.codec_type) == ["video"])
        #expect(videoStreams.first?.nb_read_frames == "50")

        let audioSource = dir.appendingPathComponent("audio.ts")
        let encoded = try runTool(
            Self.ffmpeg,
            [
                "-v", "error", "-nostdin", "-f", "lavfi", "-i", "sine=sample_rate=44100", "-t", "2", "-c:a", "aac",
                "-f", "mpegts", audioSource.path,
            ]
        )
        try #require(encoded.status == 0, "ffmpeg failed: \(encoded.stderr)")
        let (audioOnly, _) = mux([UInt8](try Data(contentsOf: audioSource)), seed: 5)
        let audioFile = dir.appendingPathComponent("audio.mp4")
        try write(audioOnly, to: audioFile)
        let audioStreams = try probe(audioFile).streams
        #expect(audioStreams.map(\.codec_type) == ["audio"])
        #expect(audioStreams.first?.sample_rate == "44100")
        let errors = try decodeErrors(audioFile)
        #expect(errors.isEmpty, "ffmpeg's decoder complained: \(errors)")
    }
}

/// The pieces the muxer is built from, on bytes written by hand.
@Suite("Media: fMP4 parts")
struct FMP4PartsTests {
    @Test func boxesCarryTheirOwnSize() {
        var w = MP4Writer()
        w.box("moov") { w in
            w.fullBox("mvhd", version: 1, flags: 0x000F01) { w in w.u32(7) }
        }
        #expect(
            w.bytes == [
                0, 0, 0, 24, 0x6D, 0x6F, 0x6F, 0x76, 0, 0, 0, 16, 0x6D, 0x76, 0x68, 0x64, 1, 0, 0x0F, 1, 0, 0, 0, 7,
            ]
        )
    }

    @Test func annexBUnitsAndEmulationPrevention() {
        let stream: [UInt8] = [0xAA, 0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 1, 0x65, 0, 0, 3, 1]
        let units = AnnexB.units(stream)
        #expect(units.map(Array.init) == [[0x67, 1, 2], [0x68, 3], [0x65, 0, 0, 3, 1]])
        #expect(units.map(AnnexB.type) == [7, 8, 5])
        #expect(AnnexB.rbsp(units[2]) == [0x65, 0, 0, 1])
    }

    @Test func exponentialGolombCodes() throws {
        // 1 | 010 | 011 | 00100 | 00101 → ue 0, 1, 2, 3; se(4) = -2.
        var r = BitReader([0b1010_0110, 0b0100_0010, 0b1000_0000])
        #expect(try r.ue() == 0)
        #expect(try r.ue() == 1)
        #expect(try r.ue() == 2)
        #expect(try r.ue() == 3)
        #expect(try r.se() == -2)
        #expect(throws: BitReader.Exhausted.self) { try r.bits(16) }
    }

    @Test func aTruncatedOrHostileSPSIsAnErrorNotACrash() {
        #expect(throws: H264SequenceParameters.ParseError.self) { try H264SequenceParameters(sps: [0x67, 100]) }
        // High profile, then nothing but zero bits: an Exp-Golomb code with too many leading zeros.
        let zeros: [UInt8] = [0x67, 100, 0, 40] + Array(repeating: 0, count: 64)
        #expect(throws: H264SequenceParameters.ParseError.self) { try H264SequenceParameters(sps: zeros[...]) }
    }

    @Test func adtsHeadersGiveTheAudioSpecificConfig() {
        // AAC LC (profile 1), 48 kHz (index 3), stereo; a 7-byte header and 3 payload bytes.
        let length = 10
        let frame: [UInt8] = [
            0xFF, 0xF1, 0x4C, 0x80 | UInt8(length >> 11), UInt8((length >> 3) & 0xFF), UInt8((length & 7) << 5) | 0x1F,
            0xFC, 1, 2, 3,
        ]
        let frames = ADTSFrame.frames(frame + frame + [0xFF, 0xF1])
        #expect(frames.count == 2, "two whole frames; the cut third is dropped")
        #expect(frames.first?.config.sampleRate == 48000)
        #expect(frames.first?.config.channels == 2)
        #expect(frames.first?.config.audioSpecificConfig == [0x11, 0x90])
        #expect(frames.first.map { Array($0.payload) } == [1, 2, 3])
    }

    @Test func anOversizedPESIsDroppedNotHeld() {
        var streams = ElementaryStreams(videoPID: 0x100, audioPID: nil)
        func packet(start: Bool, payload: [UInt8]) -> [UInt8] {
            var p: [UInt8] = [0x47, (start ? 0x40 : 0) | 0x01, 0x00, 0x10]
            p += payload
            p += Array(repeating: 0xFF, count: 188 - p.count)
            return p
        }
        // A PES header with a PTS, then 9 MiB of continuation packets, then the next PES.
        let header: [UInt8] = [0, 0, 1, 0xE0, 0, 0, 0x80, 0x80, 5, 0x21, 0, 1, 0, 1, 0, 0, 1, 0x65]
        var units = streams.feed(packet(start: true, payload: header))
        let filler = packet(start: false, payload: [])
        for _ in 0..<((9 << 20) / 184) { units += streams.feed(filler) }
        units += streams.feed(packet(start: true, payload: header))
        #expect(units.isEmpty)
        #expect(streams.dropped == 1)
        #expect(streams.flush().count == 1, "the next PES is whole")
    }
}
