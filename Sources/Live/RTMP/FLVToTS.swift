/// Why an FLV tag from a publisher cannot be used.
public enum FLVError: Error, Equatable, Sendable {
    /// Video other than H.264 (FLV codec id 7); enhanced RTMP (HEVC, AV1) is not read yet.
    case unsupportedVideoCodec(UInt8)
    /// Audio other than AAC (FLV sound format 10).
    case unsupportedAudioFormat(UInt8)
    /// A tag shorter than its headers, or a length field pointing past its end.
    case malformed(String)
}

/// Turns the FLV audio and video tags an RTMP publisher sends (OBS, ffmpeg `-f flv`) into the
/// MPEG-TS the media pipeline reads: AVC NAL units from length-prefixed (AVCC) to Annex B with
/// the parameter sets before every keyframe, AAC raw frames behind ADTS headers, millisecond
/// timestamps to 90 kHz PTS/DTS. Pure, and bounded: a tag is converted on its own.
public struct FLVToTS: Sendable {
    private var muxer: TSMuxer
    private var parameterSets: [[UInt8]] = []
    private var lengthSize = 4
    private var aac: ADTSFrame.Config?

    /// `video`/`audio`: the tracks the publisher announced (`onMetaData`), both if it did not.
    public init(video: Bool = true, audio: Bool = true) {
        muxer = TSMuxer(video: video, audio: audio)
    }

    /// Whether the publisher's sequence headers have arrived (the stream can be decoded).
    public var hasVideoConfig: Bool { !parameterSets.isEmpty }
    public var hasAudioConfig: Bool { aac != nil }

    /// An FLV video tag's body (`VIDEODATA`), at `timestamp` ms. Returns TS packets (none for a
    /// sequence header, which is kept for the keyframes).
    public mutating func video(_ body: [UInt8], timestamp: UInt32) throws(FLVError) -> [UInt8] {
        guard body.count >= 5 else { throw .malformed("video tag of \(body.count) bytes") }
        let frameType = body[0] >> 4
        let codec = body[0] & 0x0F
        guard body[0] & 0x80 == 0, codec == 7 else { throw .unsupportedVideoCodec(codec) }
        // Composition time: signed 24 bits.
        let raw = Int32(body[2]) << 16 | Int32(body[3]) << 8 | Int32(body[4])
        let composition = raw & 0x80_0000 != 0 ? raw - 0x100_0000 : raw
        switch body[1] {
        case 0:
            try readConfiguration(body[5...])
            return []
        case 1:
            guard !parameterSets.isEmpty else { return [] }  // frames before the config: undecodable
            let keyframe = frameType == 1
            var annexB: [UInt8] = [0, 0, 0, 1, 0x09, 0xF0]  // access unit delimiter
            var units: [ArraySlice<UInt8>] = []
            var i = 5
            while i < body.count {
                guard i + lengthSize <= body.count else { throw .malformed("NAL length cut short") }
                var length = 0
                for k in 0..<lengthSize { length = length << 8 | Int(body[i + k]) }
                i += lengthSize
                guard length <= body.count - i else { throw .malformed("NAL length \(length) past the tag") }
                if length > 0 { units.append(body[i..<(i + length)]) }
                i += length
            }
            let carriesParameters = units.contains { AnnexB.type($0) == 7 }
            if keyframe, !carriesParameters {
                for set in parameterSets { annexB += [0, 0, 0, 1] + set }
            }
            for unit in units where AnnexB.type(unit) != 9 { annexB += [0, 0, 0, 1] + unit }
            let dts = Self.ticks(timestamp)
            let pts = Self.ticks(UInt32(bitPattern: Int32(bitPattern: timestamp) &+ composition))
            return muxer.video(annexB, pts: pts, dts: dts, keyframe: keyframe)
        default:
            return []  // end of sequence
        }
    }

    /// An FLV audio tag's body (`AUDIODATA`).
    public mutating func audio(_ body: [UInt8], timestamp: UInt32) throws(FLVError) -> [UInt8] {
        guard body.count >= 2 else { throw .malformed("audio tag of \(body.count) bytes") }
        let format = body[0] >> 4
        guard format == 10 else { throw .unsupportedAudioFormat(format) }
        if body[1] == 0 {
            guard let config = ADTSFrame.Config(audioSpecificConfig: body[2...]) else {
                throw .malformed("AudioSpecificConfig ADTS cannot carry")
            }
            aac = config
            return []
        }
        guard let aac, body.count > 2 else { return [] }
        let frame = body[2...]
        guard frame.count + 7 < 1 << 13 else { throw .malformed("AAC frame of \(frame.count) bytes") }
        return muxer.audio(aac.adtsHeader(payloadLength: frame.count) + frame, pts: Self.ticks(timestamp))
    }

    /// The AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1): NAL length size, SPS, PPS.
    private mutating func readConfiguration(_ record: ArraySlice<UInt8>) throws(FLVError) {
        let r = Array(record)
        guard r.count >= 7, r[0] == 1 else { throw .malformed("AVC configuration record") }
        let size = Int(r[4] & 0x03) + 1
        guard size != 3 else { throw .malformed("NAL length size 3") }
        var sets: [[UInt8]] = []
        var i = 5
        for kind in 0..<2 {
            guard i < r.count else { throw .malformed("AVC configuration record cut short") }
            let count = Int(kind == 0 ? r[i] & 0x1F : r[i])
            i += 1
            for _ in 0..<count {
                guard i + 2 <= r.count else { throw .malformed("parameter set length cut short") }
                let length = Int(r[i]) << 8 | Int(r[i + 1])
                i += 2
                guard length > 0, i + length <= r.count else { throw .malformed("parameter set past the record") }
                sets.append(Array(r[i..<(i + length)]))
                i += length
            }
        }
        guard sets.contains(where: { AnnexB.type($0[...]) == 7 }) else { throw .malformed("no SPS") }
        parameterSets = sets
        lengthSize = size
    }

    /// Milliseconds to the 33-bit 90 kHz clock.
    static func ticks(_ milliseconds: UInt32) -> UInt64 { UInt64(milliseconds) * 90 & (MediaClock.wrap - 1) }
}
