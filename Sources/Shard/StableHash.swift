/// A stable 64-bit hash: xxHash64 (XXH64), written out here so every node, build and platform
/// places a group on the same spot of the ring.
///
/// Swift's `Hasher` is seeded per process, so two nodes would disagree about every placement;
/// placement needs a hash whose output is a fixed function of the bytes. XXH64 is fast, well
/// distributed, and has a reference implementation (libxxhash) to check known answers against.
public enum StableHash {
    private static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
    private static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private static let prime3: UInt64 = 0x1656_67B1_9E37_79F9
    private static let prime4: UInt64 = 0x85EB_CA77_C2B2_AE63
    private static let prime5: UInt64 = 0x27D4_EB2F_1656_67C5

    /// XXH64 of `string`'s UTF-8 bytes.
    @inlinable
    public static func hash(_ string: String, seed: UInt64 = 0) -> UInt64 {
        var copy = string
        // `withUTF8` is free for native strings and makes bridged ones contiguous once.
        return copy.withUTF8 { hash(UnsafeRawBufferPointer($0), seed: seed) }
    }

    /// XXH64 of `bytes`.
    public static func hash<Bytes: Collection>(bytes: Bytes, seed: UInt64 = 0) -> UInt64 where Bytes.Element == UInt8 {
        if let answer = bytes.withContiguousStorageIfAvailable({ hash(UnsafeRawBufferPointer($0), seed: seed) }) {
            return answer
        }
        return Array(bytes).withUnsafeBytes { hash($0, seed: seed) }
    }

    /// XXH64 of raw memory; the other entry points funnel here.
    public static func hash(_ buffer: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        let count = buffer.count
        var offset = 0
        var accumulator: UInt64

        if count >= 32 {
            var v1 = seed &+ prime1 &+ prime2
            var v2 = seed &+ prime2
            var v3 = seed
            var v4 = seed &- prime1
            let limit = count - 32
            while offset <= limit {
                v1 = round(v1, lane(buffer, offset))
                v2 = round(v2, lane(buffer, offset + 8))
                v3 = round(v3, lane(buffer, offset + 16))
                v4 = round(v4, lane(buffer, offset + 24))
                offset += 32
            }
            accumulator = rotl(v1, 1) &+ rotl(v2, 7) &+ rotl(v3, 12) &+ rotl(v4, 18)
            accumulator = mergeRound(accumulator, v1)
            accumulator = mergeRound(accumulator, v2)
            accumulator = mergeRound(accumulator, v3)
            accumulator = mergeRound(accumulator, v4)
        } else {
            accumulator = seed &+ prime5
        }

        accumulator &+= UInt64(count)

        while offset + 8 <= count {
            accumulator ^= round(0, lane(buffer, offset))
            accumulator = rotl(accumulator, 27) &* prime1 &+ prime4
            offset += 8
        }
        if offset + 4 <= count {
            accumulator ^= UInt64(word(buffer, offset)) &* prime1
            accumulator = rotl(accumulator, 23) &* prime2 &+ prime3
            offset += 4
        }
        while offset < count {
            accumulator ^= UInt64(buffer[offset]) &* prime5
            accumulator = rotl(accumulator, 11) &* prime1
            offset += 1
        }

        return avalanche(accumulator)
    }

    /// The final mix; also a good 64-bit finalizer on its own (used to derive positions from integers).
    @inline(__always)
    static func avalanche(_ value: UInt64) -> UInt64 {
        var h = value
        h ^= h >> 33
        h &*= prime2
        h ^= h >> 29
        h &*= prime3
        h ^= h >> 32
        return h
    }

    @inline(__always)
    private static func round(_ accumulator: UInt64, _ input: UInt64) -> UInt64 {
        rotl(accumulator &+ input &* prime2, 31) &* prime1
    }

    @inline(__always)
    private static func mergeRound(_ accumulator: UInt64, _ value: UInt64) -> UInt64 {
        (accumulator ^ round(0, value)) &* prime1 &+ prime4
    }

    @inline(__always)
    private static func rotl(_ value: UInt64, _ bits: UInt64) -> UInt64 {
        (value << bits) | (value >> (64 - bits))
    }

    /// Little-endian 64-bit load at any alignment; XXH64 is defined on little-endian lanes.
    @inline(__always)
    private static func lane(_ buffer: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inline(__always)
    private static func word(_ buffer: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}
