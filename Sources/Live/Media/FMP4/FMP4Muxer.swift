/// What the fMP4 muxer hands on, in stream order.
public enum FMP4Piece: Sendable, Equatable {
    /// `ftyp` + `moov`: first, and again when the picture's parameters change.
    case initSegment([UInt8])
    /// `moof` + `mdat`. `keyframe`: a decoder (after the latest init segment) can start here.
    case fragment([UInt8], keyframe: Bool)
}

/// Turns the MPEG-TS the pipeline carries (H.264 and AAC) into fragmented MP4 (CMAF-style:
/// one init segment, then `moof`+`mdat` fragments), what browsers' Media Source Extensions play.
///
/// Pure: chunks in, pieces out. Fragments are cut per video frame (each carries one frame and
/// the audio that came with it), so the added latency is one frame, not a GOP: a frame's
/// duration is known only when the next one arrives. Decode times count from the first
/// keyframe the muxer saw, in 90 kHz for video and in samples for audio.
public struct FMP4Muxer: Sendable {
    private var streams: ElementaryStreams
    private var tracks = FMP4Tracks()
    private var announced: FMP4Tracks?
    private let expectsAudio: Bool
    /// The 90 kHz decode time that is 0 in the output.
    private var origin: UInt64?
    private var pendingVideo: VideoSample?
    private var pendingAudio: [[UInt8]] = []
    /// Decode time of the first pending audio frame, then of the next frame to come, in samples.
    private var audioStart: UInt64 = 0
    private var audioNext: UInt64?
    private var lastVideoDuration: UInt32 = 3000
    /// Frames from the first keyframe on, while they wait for the audio config.
    private var waiting: [VideoFrame] = []
    private var sequence: UInt32 = 0
    /// Video whose wait for an audio config has lasted this long starts without an audio track.
    private static let audioWait: Int64 = 90_000
    /// And frames waiting hold at most this much (a stream whose clock stands still).
    private static let maximumWaitingBytes = 16 << 20

    private struct VideoFrame {
        var dts: UInt64
        var pts: UInt64
        var data: [UInt8]
        var keyframe: Bool
    }

    private struct VideoSample {
        var dts: UInt64
        var compositionOffset: Int32
        var data: [UInt8]
        var keyframe: Bool
        var tracks: FMP4Tracks
    }

    /// Frames not muxed: before the first keyframe, before the tracks were known, or damaged.
    public private(set) var skipped = 0

    /// `videoPID`/`audioPID` as the demuxer learned them from the PMT (`TSDemuxer`). H.264 video
    /// only: other codecs are not muxed (their frames count in `skipped`).
    public init(videoPID: UInt16?, videoCodec: TSVideoCodec?, audioPID: UInt16?) {
        let video = videoCodec == .h264 ? videoPID : nil
        streams = ElementaryStreams(videoPID: video, audioPID: audioPID)
        expectsAudio = audioPID != nil
    }

    /// The latest init segment, once the tracks are known: a new viewer starts with it.
    public var initSegment: [UInt8]? { announced?.initSegment }

    /// Muxes the packets of one chunk.
    public mutating func feed(_ chunk: MediaChunk) -> [FMP4Piece] {
        var out: [FMP4Piece] = []
        for unit in streams.feed(chunk.bytes) { mux(unit, into: &out) }
        return out
    }

    /// The end of the stream: the frames still held are handed on.
    public mutating func finish() -> [FMP4Piece] {
        var out: [FMP4Piece] = []
        for unit in streams.flush() { mux(unit, into: &out) }
        release(into: &out)
        if let video = pendingVideo {
            emit(video, duration: lastVideoDuration, into: &out)
            pendingVideo = nil
        } else if !pendingAudio.isEmpty {
            emitAudioOnly(into: &out)
        }
        return out
    }

    private mutating func mux(_ unit: AccessUnit, into out: inout [FMP4Piece]) {
        switch unit.track {
        case .video: muxVideo(unit, into: &out)
        case .audio: muxAudio(unit, into: &out)
        }
    }

    private mutating func muxVideo(_ unit: AccessUnit, into out: inout [FMP4Piece]) {
        var data: [UInt8] = []
        data.reserveCapacity(unit.bytes.count + 16)
        var keyframe = false
        var sps: ArraySlice<UInt8>?
        var pps: ArraySlice<UInt8>?
        for nal in AnnexB.units(unit.bytes) {
            switch AnnexB.type(nal) {
            case 7: sps = nal
            case 8: pps = nal
            case 9, 12: continue  // access unit delimiter, filler: not stored in MP4
            default:
                if AnnexB.type(nal) == 5 { keyframe = true }
                let length = UInt32(nal.count)
                data += [
                    UInt8(length >> 24), UInt8(truncatingIfNeeded: length >> 16),
                    UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length),
                ]
                data += nal
            }
        }
        if keyframe, let sps, let pps, let parameters = try? H264SequenceParameters(sps: sps) {
            let video = FMP4Tracks.Video(sps: Array(sps), pps: Array(pps), parameters: parameters)
            if tracks.video != video { tracks.video = video }
        }
        guard !data.isEmpty, tracks.video != nil else { return skip() }
        let frame = VideoFrame(dts: unit.dts, pts: unit.pts, data: data, keyframe: keyframe)
        guard origin == nil else { return place(frame, into: &out) }
        // Start at a keyframe, with the audio track if one is coming: its first PES often comes
        // a GOP behind the video (muxers interleave loosely), so frames wait for it, a second
        // at most.
        if waiting.isEmpty, !keyframe { return skip() }
        waiting.append(frame)
        let waited = MediaClock.delta(from: waiting[0].dts, to: frame.dts)
        let held = waiting.reduce(0) { $0 + $1.data.count }
        if !expectsAudio || tracks.audio != nil || waited >= Self.audioWait || held >= Self.maximumWaitingBytes {
            release(into: &out)
        }
    }

    /// The frames that waited for the audio config start the stream (with audio or without).
    private mutating func release(into out: inout [FMP4Piece]) {
        guard let first = waiting.first else { return }
        origin = first.dts
        for frame in waiting { place(frame, into: &out) }
        waiting = []
    }

    /// A video frame after the origin: the previous one goes out now that its duration is known.
    private mutating func place(_ frame: VideoFrame, into out: inout [FMP4Piece]) {
        guard let origin, MediaClock.delta(from: origin, to: frame.dts) >= 0 else { return skip() }
        let sample = VideoSample(
            dts: UInt64(MediaClock.delta(from: origin, to: frame.dts)),
            compositionOffset: Int32(clamping: MediaClock.delta(from: frame.dts, to: frame.pts)),
            data: frame.data,
            keyframe: frame.keyframe,
            tracks: tracks
        )
        if let previous = pendingVideo {
            let delta = Int64(sample.dts) - Int64(previous.dts)
            // A gap or a step back (a broken stream) keeps the last frame's duration.
            if delta > 0, delta < 10 * 90_000 { lastVideoDuration = UInt32(delta) }
            emit(previous, duration: lastVideoDuration, into: &out)
        }
        pendingVideo = sample
    }

    private mutating func muxAudio(_ unit: AccessUnit, into out: inout [FMP4Piece]) {
        let all = ADTSFrame.frames(unit.bytes)
        guard let config = all.first?.config else { return skip() }
        if tracks.audio == nil {
            // Started without audio (it came too late): a track cannot be added mid-stream.
            guard origin == nil else { return skip() }
            tracks.audio = FMP4Tracks.Audio(config: config)
            release(into: &out)
        }
        guard tracks.audio?.config == config else { return skip() }
        if tracks.video == nil, streams.videoPID == nil, origin == nil { origin = unit.pts }
        guard let origin else { return skip() }
        let rate = Int64(config.sampleRate)
        let frame = UInt64(ADTSFrame.samplesPerFrame)
        // Frames before the origin (audio often starts a little ahead of the first keyframe)
        // are dropped one by one, not with their whole PES.
        var samples = MediaClock.delta(from: origin, to: unit.pts) * rate / 90_000
        var frames = all[...]
        while samples < 0, !frames.isEmpty {
            frames = frames.dropFirst()
            samples += Int64(frame)
        }
        guard samples >= 0, !frames.isEmpty else { return skip() }
        let at = UInt64(samples)
        // Frames are laid end to end; a jump of more than two frames (lost audio, a new
        // ingest) starts a new run at the PES's own time.
        let contiguous = audioNext.map { at <= $0 + 2 * frame && at + 2 * frame >= $0 } ?? false
        if !contiguous {
            emitAudioOnly(into: &out)
            audioNext = at
        }
        var next = audioNext ?? at
        if pendingAudio.isEmpty { audioStart = next }
        for frameData in frames {
            pendingAudio.append(Array(frameData.payload))
            next += frame
        }
        audioNext = next
        // With no video track, audio is its own clock: one fragment per PES.
        if streams.videoPID == nil { emitAudioOnly(into: &out) }
    }

    private mutating func skip() { skipped += 1 }

    /// A fragment of one video frame and the audio held since the last one.
    private mutating func emit(_ video: VideoSample, duration: UInt32, into out: inout [FMP4Piece]) {
        announce(video.tracks, into: &out)
        let audio = announced?.audio != nil ? takeAudio() : nil
        out.append(.fragment(fragment(video: (video, duration), audio: audio), keyframe: video.keyframe))
    }

    private mutating func emitAudioOnly(into out: inout [FMP4Piece]) {
        guard !pendingAudio.isEmpty else { return }
        announce(tracks, into: &out)
        guard announced?.audio != nil else {
            pendingAudio = []
            return
        }
        let audio = takeAudio()
        out.append(.fragment(fragment(video: nil, audio: audio), keyframe: announced?.video == nil))
    }

    private mutating func takeAudio() -> (start: UInt64, frames: [[UInt8]])? {
        guard !pendingAudio.isEmpty else { return nil }
        defer { pendingAudio = [] }
        return (audioStart, pendingAudio)
    }

    private mutating func announce(_ tracks: FMP4Tracks, into out: inout [FMP4Piece]) {
        guard announced != tracks else { return }
        announced = tracks
        out.append(.initSegment(tracks.initSegment))
    }

    private mutating func fragment(
        video: (sample: VideoSample, duration: UInt32)?,
        audio: (start: UInt64, frames: [[UInt8]])?
    ) -> [UInt8] {
        sequence += 1
        let tracks = announced ?? self.tracks
        var w = MP4Writer(capacity: (video?.sample.data.count ?? 0) + 512)
        var offsetFields: [(at: Int, dataOffset: Int)] = []
        var mdatPayload = 0
        w.box("moof") { w in
            w.fullBox("mfhd", version: 0, flags: 0) { w in w.u32(sequence) }
            if let video {
                let at = traf(&w, id: tracks.videoTrackID, decodeTime: video.sample.dts, count: 1) { w in
                    w.u32(video.duration)
                    w.u32(UInt32(video.sample.data.count))
                    w.u32(video.sample.keyframe ? 0x0200_0000 : 0x0101_0000)
                    w.i32(video.sample.compositionOffset)
                }
                offsetFields.append((at, mdatPayload))
                mdatPayload += video.sample.data.count
            }
            if let audio {
                let at = traf(&w, id: tracks.audioTrackID, decodeTime: audio.start, count: audio.frames.count) { w in
                    for frame in audio.frames {
                        w.u32(UInt32(ADTSFrame.samplesPerFrame))
                        w.u32(UInt32(frame.count))
                        w.u32(0x0200_0000)
                        w.i32(0)
                    }
                }
                offsetFields.append((at, mdatPayload))
                mdatPayload += audio.frames.reduce(0) { $0 + $1.count }
            }
        }
        // Data offsets count from the start of the moof (default-base-is-moof) to the sample
        // data, which follows the moof and the mdat's 8-byte header.
        let moofSize = w.count
        for field in offsetFields { w.patch(at: field.at, UInt32(moofSize + 8 + field.dataOffset)) }
        w.u32(UInt32(8 + mdatPayload))
        w.fourCC("mdat")
        if let video { w.append(video.sample.data) }
        if let audio { for frame in audio.frames { w.append(frame) } }
        return w.bytes
    }

    /// A `traf` with `tfhd`, `tfdt` and a `trun` of `count` samples written by `samples`
    /// (duration, size, flags, composition offset each). Returns where the `trun`'s data
    /// offset is, to be patched once the `moof`'s size is known.
    private func traf(
        _ w: inout MP4Writer,
        id: UInt32,
        decodeTime: UInt64,
        count: Int,
        samples: (inout MP4Writer) -> Void
    ) -> Int {
        var offsetAt = 0
        w.box("traf") { w in
            w.fullBox("tfhd", version: 0, flags: 0x02_0000) { w in w.u32(id) }  // default-base-is-moof
            w.fullBox("tfdt", version: 1, flags: 0) { w in w.u64(decodeTime) }
            // Version 1: signed composition offsets. Flags: data offset, and per sample the
            // duration, size, flags and composition offset.
            w.fullBox("trun", version: 1, flags: 0x000F01) { w in
                w.u32(UInt32(count))
                offsetAt = w.count
                w.u32(0)
                samples(&w)
            }
        }
        return offsetAt
    }
}
