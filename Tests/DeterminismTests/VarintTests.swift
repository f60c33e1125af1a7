import Determinism
import Testing

@Suite struct VarintTests {
    static let boundaries: [UInt64] = {
        var values: [UInt64] = [0, 1, 127, 128, 255, 300, 16_383, 16_384, (1 << 63) - 1, 1 << 63, .max - 1, .max]
        for shift in 1..<64 { values += [(1 << UInt64(shift)) - 1, 1 << UInt64(shift)] }
        return values
    }()

    @Test(arguments: boundaries)
    func roundTripsCanonically(value: UInt64) throws {
        let bytes = Varint.encode(value)
        #expect(bytes.count == Varint.size(value))
        #expect(bytes.count <= Varint.maxSize)
        var reader = ByteReader(bytes)
        #expect(try reader.readVarint() == value)
        #expect(reader.isAtEnd)
        // Appending writes the same bytes after what is there.
        var out: [UInt8] = [0xAA]
        Varint.append(value, into: &out)
        #expect(out == [0xAA] + bytes)
    }

    @Test func pinnedEncodings() {
        #expect(Varint.encode(0) == [0x00])
        #expect(Varint.encode(127) == [0x7F])
        #expect(Varint.encode(128) == [0x80, 0x01])
        #expect(Varint.encode(300) == [0xAC, 0x02])
        #expect(Varint.encode(1 << 63) == [UInt8](repeating: 0x80, count: 9) + [0x01])
        #expect(Varint.encode(.max) == [UInt8](repeating: 0xFF, count: 9) + [0x01])
    }

    @Test func refusesOverlongEncodings() {
        let overlong: [[UInt8]] = [
            [0x80, 0x00],  // 0 in two bytes
            [0x81, 0x80, 0x00],  // 1 in three bytes
            [0xFF, 0x00],  // 127 in two bytes
            [0x80, 0x81, 0x00],  // 128 in three bytes
            [UInt8](repeating: 0xFF, count: 9) + [0x00],  // 2^63 - 1 in ten bytes
        ]
        for bytes in overlong {
            var reader = ByteReader(bytes)
            #expect(throws: ByteReadError.overlongVarint) { try reader.readVarint() }
            #expect(reader.index == 0, "a failed read leaves the cursor where it was")
        }
    }

    @Test func refusesMoreThan64Bits() {
        let tooLarge: [[UInt8]] = [
            [UInt8](repeating: 0xFF, count: 9) + [0x02],  // bit 64 in the tenth group
            [UInt8](repeating: 0xFF, count: 9) + [0x7F],
            [UInt8](repeating: 0xFF, count: 10) + [0x01],  // eleven bytes
            [UInt8](repeating: 0x80, count: 10) + [0x01],  // eleven bytes, all but the last zero
            [UInt8](repeating: 0xFF, count: 20),
        ]
        for bytes in tooLarge {
            var reader = ByteReader(bytes)
            #expect(throws: ByteReadError.varintOverflow) { try reader.readVarint() }
            #expect(reader.index == 0)
        }
    }

    @Test func refusesTruncatedInput() {
        let truncated: [[UInt8]] = [[], [0x80], [0xFF, 0xFF], [UInt8](repeating: 0xFF, count: 9)]
        for bytes in truncated {
            var reader = ByteReader(bytes)
            #expect(throws: ByteReadError.truncated) { try reader.readVarint() }
            #expect(reader.index == 0)
        }
        // Cut anywhere, the encoding of the largest value is truncated, never misread.
        let full = Varint.encode(.max)
        for cut in 0..<full.count {
            var reader = ByteReader(Array(full.prefix(cut)))
            #expect(throws: ByteReadError.truncated) { try reader.readVarint() }
        }
    }

    /// The reader stays inside its slice even when the array goes on: a varint that runs to the
    /// slice's end is truncated, not completed from the bytes after it.
    @Test func neverReadsPastItsBounds() throws {
        let array: [UInt8] = [0x05, 0x80, 0x80, 0x01, 0x07]
        var reader = ByteReader(array[1..<3])
        #expect(reader.index == 1)
        #expect(throws: ByteReadError.truncated) { try reader.readVarint() }
        var bytes = ByteReader(array[1..<4])
        #expect(try bytes.readVarint() == 1 << 14)
        #expect(bytes.isAtEnd)
        #expect(throws: ByteReadError.truncated) { try bytes.readByte() }
        var slices = ByteReader(array[1...])
        #expect(throws: ByteReadError.truncated) { try slices.readBytes(5) }
        #expect(throws: ByteReadError.truncated) { try slices.readBytes(-1) }
        #expect(try slices.readBytes(4) == array[1...])
        #expect(slices.remaining == 0)
    }

    /// Whatever decodes is canonical: it re-encodes to exactly the bytes it was read from. And no
    /// input traps.
    @Test func arbitraryInputDecodesCanonicallyOrIsRefused() {
        var random = SplitMix64(seed: 5)
        for _ in 0..<20_000 {
            let count = Int(random.next() % 12)
            let bytes = (0..<count).map { _ in
                // Mostly continuation bytes, so long varints are common.
                UInt8(truncatingIfNeeded: random.next()) | (random.next() % 4 == 0 ? 0 : 0x80)
            }
            var reader = ByteReader(bytes)
            guard let value = try? reader.readVarint() else {
                #expect(reader.index == 0)
                continue
            }
            #expect(Varint.encode(value)[...] == bytes[..<reader.index])
        }
    }
}
