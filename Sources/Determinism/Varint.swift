/// Unsigned LEB128 varints: 7 bits a byte, low group first, the high bit set on every byte but
/// the last.
///
/// One implementation for every binary codec of the cores (replication messages, the live event
/// log), so they agree on what is valid: the writer always emits the canonical (shortest) form
/// and `ByteReader.readVarint` accepts only that form, so each value has exactly one encoding and
/// whatever decodes re-encodes to the same bytes.
public enum Varint {
    /// The most bytes a `UInt64` takes: nine groups of 7 bits, then one byte holding bit 63.
    public static let maxSize = 10

    /// Appends the canonical encoding of `value` to `out`.
    @inlinable
    public static func append(_ value: UInt64, into out: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        out.append(UInt8(truncatingIfNeeded: value))
    }

    /// The canonical encoding of `value` as a new array.
    public static func encode(_ value: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(size(value))
        append(value, into: &out)
        return out
    }

    /// The number of bytes `append` writes for `value` (1 to 10).
    @inlinable
    public static func size(_ value: UInt64) -> Int {
        // Significant bits (at least 1) in groups of 7.
        (64 - (value | 1).leadingZeroBitCount + 6) / 7
    }
}
