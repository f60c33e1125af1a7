/// H.264 byte streams as MPEG-TS carries them (Annex B: NAL units behind `00 00 01` or
/// `00 00 00 01` start codes), and the length-prefixed form MP4 stores (AVCC).
enum AnnexB {
    /// The NAL units of `bytes`, without their start codes. Bytes before the first start code
    /// are not a NAL unit and are dropped; trailing zero bytes of a unit belong to the next
    /// start code (`trailing_zero_8bits`) and are trimmed.
    static func units(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var units: [ArraySlice<UInt8>] = []
        var start: Int?
        var i = 0
        while let next = nextStartCode(bytes, from: i, to: bytes.count) {
            if let s = start { units.append(trimmed(bytes[s..<(next - 3)])) }
            start = next
            i = next
        }
        if let s = start, s < bytes.count { units.append(trimmed(bytes[s..<bytes.count])) }
        return units.filter { !$0.isEmpty }
    }

    /// The index just after the first `00 00 01` in `bytes[from..<end]` (which also finds the
    /// 4-byte form), or nil. Skips three bytes where the third is above 1: no start code can
    /// then begin at any of them.
    static func nextStartCode(_ bytes: [UInt8], from: Int, to end: Int) -> Int? {
        var i = from
        while i + 2 < end {
            if bytes[i + 2] > 1 {
                i += 3
            } else if bytes[i] == 0, bytes[i + 1] == 0, bytes[i + 2] == 1 {
                return i + 3
            } else {
                i += 1
            }
        }
        return nil
    }

    private static func trimmed(_ unit: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var end = unit.endIndex
        while end > unit.startIndex, unit[end - 1] == 0 { end -= 1 }
        return unit[unit.startIndex..<end]
    }

    /// The NAL unit type (H.264: the low 5 bits of the first byte).
    static func type(_ unit: ArraySlice<UInt8>) -> UInt8 { unit.first.map { $0 & 0x1F } ?? 0 }

    /// `unit` with its emulation prevention bytes removed (`00 00 03` → `00 00`): the RBSP the
    /// syntax is read from.
    static func rbsp(_ unit: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(unit.count)
        var zeros = 0
        for byte in unit {
            if zeros >= 2, byte == 3 {
                zeros = 0
                continue
            }
            out.append(byte)
            zeros = byte == 0 ? zeros + 1 : 0
        }
        return out
    }
}

/// Reads bits most significant first, with the Exp-Golomb codes of H.264 (§9.1). Reading past
/// the end throws, so a truncated or hostile parameter set is an error, never a crash.
struct BitReader {
    struct Exhausted: Error {}
    private let bytes: [UInt8]
    private var bit = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func bits(_ count: Int) throws(Exhausted) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<count {
            guard bit < bytes.count * 8 else { throw Exhausted() }
            value = value << 1 | UInt32((bytes[bit >> 3] >> (7 - UInt8(bit & 7))) & 1)
            bit += 1
        }
        return value
    }

    mutating func flag() throws(Exhausted) -> Bool { try bits(1) == 1 }

    /// ue(v). More than 31 leading zeros is not a valid code in a parameter set.
    mutating func ue() throws(Exhausted) -> UInt32 {
        var zeros = 0
        while try bits(1) == 0 {
            zeros += 1
            guard zeros < 32 else { throw Exhausted() }
        }
        guard zeros > 0 else { return 0 }
        return (UInt32(1) << UInt32(zeros)) - 1 + (try bits(zeros))
    }

    /// se(v).
    mutating func se() throws(Exhausted) -> Int32 {
        let code = try ue()
        return code & 1 == 1 ? Int32(code / 2 + 1) : -Int32(code / 2)
    }
}
