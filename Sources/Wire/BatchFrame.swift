import NIOCore

/// Why a node-to-node frame was refused.
public enum BatchFrameError: Error, Equatable, Sendable {
    /// The frame declares a payload larger than the receiver accepts.
    case frameTooLarge(size: Int, limit: Int)
    /// Unknown flag bits: a peer speaking a newer or a broken protocol.
    case unknownFlags(UInt8)
    /// The LZ4 payload did not decompress to its declared size.
    case compression(LZ4Error)
}

/// The framing of every node-to-node stream: a batch of entries or media chunks, length-prefixed,
/// LZ4-compressed when that pays and raw when it does not.
///
/// Layout (big endian):
/// ```
/// u32 bodyLength | u8 flags | [u32 rawLength, if flags & lz4] | body
/// ```
/// `bodyLength` counts the body only. The raw length rides along because the LZ4 block format
/// carries none, and it lets the receiver refuse oversized frames before allocating.
public enum BatchFrame {
    /// Flag bit: the body is one LZ4 block.
    public static let lz4Flag: UInt8 = 0x01

    /// Settings for the encoder.
    public struct Options: Sendable {
        /// Bodies shorter than this are sent raw: LZ4's fixed cost outweighs the gain. Default 256 B.
        public var compressMinBytes: Int = 256
        /// Keep the compressed body only if it is at most this fraction of the raw one.
        /// Default 0.9: saving under 10% is not worth the receiver's CPU.
        public var keepRatio: Double = 0.9
        public init() {}
    }

    /// What `encode` did, for metrics (bytes before and after compression).
    public struct EncodeResult: Sendable, Equatable {
        public var rawBytes: Int
        public var wireBytes: Int
        public var compressed: Bool
    }

    /// Appends one frame carrying `payload` to `out`.
    @discardableResult
    public static func encode(
        _ payload: ByteBuffer,
        into out: inout ByteBuffer,
        options: Options = Options()
    ) -> EncodeResult {
        let raw = payload.readableBytes
        if raw >= options.compressMinBytes, let block = try? LZ4Block.compress(payload),
            Double(block.readableBytes) <= Double(raw) * options.keepRatio
        {
            out.writeInteger(UInt32(block.readableBytes))
            out.writeInteger(lz4Flag)
            out.writeInteger(UInt32(raw))
            out.writeImmutableBuffer(block)
            return EncodeResult(rawBytes: raw, wireBytes: 9 + block.readableBytes, compressed: true)
        }
        out.writeInteger(UInt32(raw))
        out.writeInteger(UInt8(0))
        out.writeImmutableBuffer(payload)
        return EncodeResult(rawBytes: raw, wireBytes: 5 + raw, compressed: false)
    }

    /// Reads one whole frame from the front of `buffer` and returns its raw payload, or `nil`
    /// when more bytes are needed (nothing is consumed then).
    ///
    /// - Parameter maxPayload: the largest raw payload accepted; checked against the declared
    ///   lengths before any allocation.
    public static func decode(
        from buffer: inout ByteBuffer,
        maxPayload: Int
    ) throws(BatchFrameError) -> ByteBuffer? {
        guard let bodyLength = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
            let flags = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt8.self)
        else { return nil }
        guard flags & ~lz4Flag == 0 else { throw .unknownFlags(flags) }
        let compressed = flags & lz4Flag != 0
        let headerLength = compressed ? 9 : 5
        let body = Int(bodyLength)
        // A compressed body never exceeds LZ4's bound of the raw size, so this bounds both cases.
        guard body <= LZ4Block.compressBound(maxPayload) || body <= maxPayload else {
            throw .frameTooLarge(size: body, limit: maxPayload)
        }
        var rawLength = body
        if compressed {
            guard let declared = buffer.getInteger(at: buffer.readerIndex + 5, as: UInt32.self) else { return nil }
            rawLength = Int(declared)
        }
        guard rawLength <= maxPayload else { throw .frameTooLarge(size: rawLength, limit: maxPayload) }
        guard buffer.readableBytes >= headerLength + body else { return nil }
        buffer.moveReaderIndex(forwardBy: headerLength)
        let bodyBytes = buffer.readSlice(length: body)!
        guard compressed else { return bodyBytes }
        do {
            return try LZ4Block.decompress(bodyBytes, decompressedSize: rawLength, maxOutputSize: maxPayload)
        } catch {
            throw .compression(error)
        }
    }
}
