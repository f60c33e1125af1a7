/// Why `ByteReader` could not read a field.
public enum ByteReadError: Error, Hashable, Sendable {
    /// The input ended inside the field (or a length asked for more bytes than are left).
    case truncated
    /// A varint with a redundant zero high group: a longer spelling of a shorter varint, which a
    /// canonical format refuses so that each value has one encoding.
    case overlongVarint
    /// A varint holding more than 64 bits: a tenth group above bit 63, or an eleventh byte.
    case varintOverflow
}

/// A cursor over a bounded byte slice for the binary codecs of the cores.
///
/// Every read checks the bytes left before it touches one, so no input, however hostile or cut
/// short, can make a read trap or see past the slice's bounds; a failed read throws a typed error
/// and leaves the cursor where it was. Varints are read strictly (see `Varint`). The hot reads are
/// `@inlinable` so the codecs in other modules pay no call per byte.
public struct ByteReader: Sendable {
    /// The whole input; its indices need not start at 0.
    public let bytes: ArraySlice<UInt8>
    @usableFromInline var position: Int

    public init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.position = bytes.startIndex
    }

    public init(_ bytes: [UInt8]) {
        self.init(bytes[...])
    }

    /// The index of the next byte in `bytes`.
    @inlinable
    public var index: Int { position }

    /// Bytes not read yet.
    @inlinable
    public var remaining: Int { bytes.endIndex - position }

    @inlinable
    public var isAtEnd: Bool { position >= bytes.endIndex }

    @inlinable
    public mutating func readByte() throws(ByteReadError) -> UInt8 {
        guard position < bytes.endIndex else { throw .truncated }
        let byte = bytes[position]
        position += 1
        return byte
    }

    /// The next `count` bytes (a view into `bytes`, not a copy).
    @inlinable
    public mutating func readBytes(_ count: Int) throws(ByteReadError) -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else { throw .truncated }
        let start = position
        position += count
        return bytes[start..<position]
    }

    /// An unsigned LEB128 varint in its canonical form: at most ten bytes, the tenth holding bit 63
    /// only, and no zero last group after the first byte.
    @inlinable
    public mutating func readVarint() throws(ByteReadError) -> UInt64 {
        let start = position
        guard start < bytes.endIndex else { throw .truncated }
        var byte = bytes[start]
        if byte < 0x80 {
            // The common case: one byte.
            position = start + 1
            return UInt64(byte)
        }
        var value = UInt64(byte & 0x7F)
        var shift: UInt64 = 7
        var next = start + 1
        while true {
            guard next < bytes.endIndex else { throw .truncated }
            byte = bytes[next]
            next += 1
            // The tenth group holds bit 63 only (and must end the varint).
            if shift == 63 && byte > 1 { throw .varintOverflow }
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 {
                // A zero last group would be an overlong encoding of a shorter varint.
                guard byte != 0 else { throw .overlongVarint }
                position = next
                return value
            }
            shift += 7
        }
    }
}
