/// Builds ISO BMFF (MP4) boxes: big-endian fields, and boxes whose 32-bit size is written once
/// their contents are (`box`), so a box's size is never computed by hand.
struct MP4Writer {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    var count: Int { bytes.count }

    mutating func u8(_ value: UInt8) { bytes.append(value) }

    mutating func u16(_ value: UInt16) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    mutating func u24(_ value: UInt32) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 16))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    mutating func u32(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }

    mutating func u64(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    mutating func i32(_ value: Int32) { u32(UInt32(bitPattern: value)) }

    mutating func zeros(_ count: Int) { bytes.append(contentsOf: repeatElement(0, count: count)) }

    mutating func append(_ other: some Collection<UInt8>) { bytes.append(contentsOf: other) }

    /// A four-character code.
    mutating func fourCC(_ code: StaticString) {
        precondition(code.utf8CodeUnitCount == 4)
        code.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// A box: size, type, then what `body` writes.
    mutating func box(_ type: StaticString, _ body: (inout MP4Writer) -> Void) {
        let start = bytes.count
        u32(0)
        fourCC(type)
        body(&self)
        patch(at: start, UInt32(bytes.count - start))
    }

    /// A full box: a box whose body begins with a version and 24 bits of flags.
    mutating func fullBox(_ type: StaticString, version: UInt8, flags: UInt32, _ body: (inout MP4Writer) -> Void) {
        box(type) { w in
            w.u8(version)
            w.u24(flags)
            body(&w)
        }
    }

    /// Overwrites 4 bytes at `offset` (a size or an offset known only later).
    mutating func patch(at offset: Int, _ value: UInt32) {
        bytes[offset] = UInt8(truncatingIfNeeded: value >> 24)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: value >> 16)
        bytes[offset + 2] = UInt8(truncatingIfNeeded: value >> 8)
        bytes[offset + 3] = UInt8(truncatingIfNeeded: value)
    }

    /// The unity transformation matrix of `mvhd` and `tkhd`.
    mutating func unityMatrix() {
        for value: UInt32 in [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] { u32(value) }
    }
}
