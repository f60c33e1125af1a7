/// Why a piece of MPEG-TS could not be used. The demuxer never stops on these: a bad packet or
/// section is counted and its bytes are still forwarded, because viewers' decoders cope with a
/// damaged packet far better than with a missing one.
public enum TSParseError: Error, Equatable, Sendable {
    /// Fewer bytes than the structure needs.
    case truncated
    /// `adaptation_field_length` larger than the packet can hold.
    case badAdaptationFieldLength(Int)
    /// A PSI `pointer_field` pointing past the packet.
    case badPointerField(Int)
    /// A PSI `section_length` outside the table's limits or past the bytes received.
    case badSectionLength(Int)
    /// A PSI section with a table id other than the one its PID carries.
    case unexpectedTableID(UInt8)
    /// A PSI section that is not yet applicable (`current_next_indicator` = 0).
    case notCurrent
    /// A PES header that does not start with `00 00 01`.
    case badPESStartCode
}

/// The header fields of one 188-byte transport packet (ISO/IEC 13818-1 §2.4.3.2), read in place
/// from the demuxer's buffer so that no packet is copied just to be inspected.
struct TSPacket {
    static let size = 188
    static let syncByte: UInt8 = 0x47
    static let patPID: UInt16 = 0x0000
    static let nullPID: UInt16 = 0x1FFF

    var pid: UInt16
    var payloadUnitStart: Bool
    var transportError: Bool
    /// Scrambled payloads cannot be searched for NAL units; only the adaptation field helps.
    var scrambled: Bool
    /// `random_access_indicator`: the muxer's own statement that a keyframe starts here.
    var randomAccess: Bool
    /// Absolute indices of the payload in the buffer the packet was read from; empty when none.
    var payload: Range<Int>

    /// Reads the packet starting at `start`; the caller guarantees `size` bytes are there.
    init(_ bytes: [UInt8], at start: Int) throws(TSParseError) {
        guard start >= 0, start + Self.size <= bytes.count else { throw .truncated }
        let b1 = bytes[start + 1]
        let b3 = bytes[start + 3]
        pid = UInt16(b1 & 0x1F) << 8 | UInt16(bytes[start + 2])
        payloadUnitStart = b1 & 0x40 != 0
        transportError = b1 & 0x80 != 0
        scrambled = b3 & 0xC0 != 0
        randomAccess = false
        let control = (b3 >> 4) & 0x3
        var payloadStart = start + 4
        if control & 0x2 != 0 {
            let length = Int(bytes[start + 4])
            // 183 fills the packet (adaptation only); with a payload at most 182 leaves one byte.
            let limit = control == 0x3 ? 182 : 183
            guard length <= limit else { throw .badAdaptationFieldLength(length) }
            if length > 0 {
                randomAccess = bytes[start + 5] & 0x40 != 0
            }
            payloadStart = start + 5 + length
        }
        let end = start + Self.size
        payload = control & 0x1 != 0 ? payloadStart..<end : end..<end
    }
}
