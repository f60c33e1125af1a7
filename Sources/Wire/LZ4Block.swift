import CLZ4
import NIOCore

/// Why LZ4 block compression failed. Every case is a clean, typed refusal: a corrupt or hostile
/// input never makes the codec allocate more than the caller's declared limit.
public enum LZ4Error: Error, Equatable, Sendable {
    /// The input to compress is larger than `LZ4Block.maxInputSize` or the caller's limit.
    case inputTooLarge(size: Int, limit: Int)
    /// A compressed block claims a decompressed size above the caller's limit (or a negative one).
    case declaredSizeOutOfBounds(declared: Int, limit: Int)
    /// The compressed bytes are malformed, truncated, or do not expand to exactly the declared size.
    case corrupt
}

/// A small, bounded API over liblz4's block format (not the frame format: Qunbo frames batches
/// itself, see `BatchFrame`).
///
/// The block format carries no length, so `decompress` requires the exact decompressed size,
/// which callers transmit alongside the block; `maxOutputSize` is the hard ceiling that keeps a
/// peer from asking us to allocate gigabytes.
public enum LZ4Block {
    /// liblz4's own ceiling (`LZ4_MAX_INPUT_SIZE`, about 2 GiB).
    public static let maxInputSize = 0x7E00_0000

    /// The worst-case compressed size for `size` input bytes (`LZ4_compressBound`).
    public static func compressBound(_ size: Int) -> Int {
        guard size >= 0, size <= maxInputSize else { return 0 }
        return Int(LZ4_compressBound(Int32(size)))
    }

    /// Compresses `input` into a new buffer holding exactly the compressed block.
    public static func compress(
        _ input: ByteBuffer,
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) throws(LZ4Error) -> ByteBuffer {
        let size = input.readableBytes
        guard size <= maxInputSize else { throw .inputTooLarge(size: size, limit: maxInputSize) }
        let bound = compressBound(size)
        var output = allocator.buffer(capacity: bound)
        let written = input.withUnsafeReadableBytes { src in
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { dst in
                let n = LZ4_compress_default(
                    src.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) },
                    dst.baseAddress!.assumingMemoryBound(to: CChar.self),
                    Int32(size),
                    Int32(bound)
                )
                return max(Int(n), 0)
            }
        }
        // With a capacity of compressBound, LZ4 cannot fail except on empty input, which
        // legitimately compresses to a single token byte; anything else is a library fault.
        guard written > 0 || size == 0 else { throw .corrupt }
        return output
    }

    /// Decompresses one block that must expand to exactly `decompressedSize` bytes.
    ///
    /// - Parameter maxOutputSize: the most this call may allocate; a larger declared size is
    ///   refused before any allocation.
    public static func decompress(
        _ input: ByteBuffer,
        decompressedSize: Int,
        maxOutputSize: Int,
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) throws(LZ4Error) -> ByteBuffer {
        let limit = min(maxOutputSize, maxInputSize)
        guard decompressedSize >= 0, decompressedSize <= limit else {
            throw .declaredSizeOutOfBounds(declared: decompressedSize, limit: limit)
        }
        guard input.readableBytes > 0, input.readableBytes <= maxInputSize else { throw .corrupt }
        var output = allocator.buffer(capacity: decompressedSize)
        // LZ4 needs a non-null destination even for an empty result.
        let capacity = max(decompressedSize, 1)
        var result: Int32 = -1
        input.withUnsafeReadableBytes { src in
            _ = output.writeWithUnsafeMutableBytes(minimumWritableBytes: capacity) { dst in
                result = LZ4_decompress_safe(
                    src.baseAddress!.assumingMemoryBound(to: CChar.self),
                    dst.baseAddress!.assumingMemoryBound(to: CChar.self),
                    Int32(src.count),
                    Int32(decompressedSize)
                )
                return result == Int32(decompressedSize) ? Int(result) : 0
            }
        }
        guard result == Int32(decompressedSize) else { throw .corrupt }
        return output
    }
}

extension LZ4Block {
    /// Convenience for byte arrays (tests, small payloads).
    public static func compress(_ bytes: [UInt8]) throws(LZ4Error) -> [UInt8] {
        let out = try compress(ByteBuffer(bytes: bytes))
        return Array(out.readableBytesView)
    }

    /// Convenience for byte arrays (tests, small payloads).
    public static func decompress(
        _ bytes: [UInt8],
        decompressedSize: Int,
        maxOutputSize: Int
    ) throws(LZ4Error) -> [UInt8] {
        let out = try decompress(
            ByteBuffer(bytes: bytes),
            decompressedSize: decompressedSize,
            maxOutputSize: maxOutputSize
        )
        return Array(out.readableBytesView)
    }
}
