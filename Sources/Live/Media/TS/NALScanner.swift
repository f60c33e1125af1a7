/// Video codecs whose keyframes the demuxer can recognise from the bitstream itself.
public enum TSVideoCodec: Sendable, Equatable {
    /// stream_type 0x1B.
    case h264
    /// stream_type 0x24.
    case h265
}

/// Finds random access NAL units in the bytes of a PES's first packet, for muxers that do not
/// set `random_access_indicator`. Only the bytes at hand are searched: the keyframe decision
/// has to be made at the PES's first packet, since that packet must begin a new chunk.
enum NALScanner {
    /// Whether `bytes[range]` holds a start code (`00 00 01`, which also matches the 4-byte
    /// form) followed by a NAL header that begins a decodable picture.
    static func containsRandomAccess(_ bytes: [UInt8], in range: Range<Int>, codec: TSVideoCodec) -> Bool {
        var i = range.lowerBound
        while let header = AnnexB.nextStartCode(bytes, from: i, to: range.upperBound), header < range.upperBound {
            if isRandomAccess(header: bytes[header], codec: codec) { return true }
            i = header
        }
        return false
    }

    /// H.264: IDR slice (5), or an SPS (7), which encoders emit only in front of a picture a
    /// decoder can start at; in the first 184 bytes of a PES the SPS is often all there is room
    /// for (AUD, SPS, PPS and SEI precede the slice). H.265: IRAP pictures (16–21), or a
    /// VPS/SPS (32/33) for the same reason.
    static func isRandomAccess(header: UInt8, codec: TSVideoCodec) -> Bool {
        switch codec {
        case .h264:
            let type = header & 0x1F
            return type == 5 || type == 7
        case .h265:
            let type = (header >> 1) & 0x3F
            return (16...21).contains(type) || type == 32 || type == 33
        }
    }
}
