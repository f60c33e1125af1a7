/// The part of a PES packet header (ISO/IEC 13818-1 §2.4.3.6) the server needs: where the
/// elementary stream data starts, and the presentation time used for cutting and timing.
struct PESHeader: Equatable {
    var streamID: UInt8
    /// 33-bit, 90 kHz presentation timestamp, when the header carries one.
    var pts: UInt64?
    /// Decoding timestamp, when it differs from the PTS (B-frames); nil means equal to `pts`.
    var dts: UInt64? = nil
    /// Absolute index of the first elementary-stream byte (may equal the range's end).
    var payloadStart: Int

    /// Parses the header at the start of `range` in `bytes` (a packet's payload with
    /// `payload_unit_start_indicator` set). Every length is checked against `range`.
    static func parse(_ bytes: [UInt8], in range: Range<Int>) throws(TSParseError) -> PESHeader {
        let p = range.lowerBound
        guard range.count >= 6 else { throw .truncated }
        guard bytes[p] == 0, bytes[p + 1] == 0, bytes[p + 2] == 1 else { throw .badPESStartCode }
        let streamID = bytes[p + 3]
        if !hasOptionalHeader(streamID) {
            return PESHeader(streamID: streamID, pts: nil, payloadStart: p + 6)
        }
        guard range.count >= 9 else { throw .truncated }
        let flags = bytes[p + 7]
        let headerLength = Int(bytes[p + 8])
        let payloadStart = p + 9 + headerLength
        guard payloadStart <= range.upperBound else { throw .truncated }
        var pts: UInt64?
        var dts: UInt64?
        if flags & 0x80 != 0, headerLength >= 5 {
            pts = decodeTimestamp(bytes, at: p + 9)
            if flags & 0x40 != 0, headerLength >= 10 { dts = decodeTimestamp(bytes, at: p + 14) }
        }
        return PESHeader(streamID: streamID, pts: pts, dts: dts, payloadStart: payloadStart)
    }

    /// Stream ids whose PES packets carry no optional header (program stream map, padding,
    /// private stream 2, ECM/EMM, DSM-CC, H.222.1 type E, directory).
    static func hasOptionalHeader(_ streamID: UInt8) -> Bool {
        switch streamID {
        case 0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xF2, 0xF8, 0xFF: false
        default: true
        }
    }

    /// The 5-byte PTS/DTS encoding: 3 + 15 + 15 bits, each group followed by a marker bit.
    static func decodeTimestamp(_ bytes: [UInt8], at i: Int) -> UInt64 {
        let high = UInt64(bytes[i] >> 1) & 0x7
        let mid = UInt64(bytes[i + 1]) << 7 | UInt64(bytes[i + 2] >> 1)
        let low = UInt64(bytes[i + 3]) << 7 | UInt64(bytes[i + 4] >> 1)
        return high << 30 | mid << 15 | low
    }
}
