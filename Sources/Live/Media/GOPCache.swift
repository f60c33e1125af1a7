/// The chunks since the most recent keyframe, so that a viewer joining mid-stream is sent a
/// picture at once instead of waiting up to a GOP for the next keyframe (SRS's GOP cache).
public struct GOPCache: Sendable {
    /// A GOP larger than this (a stream with rare or missing keyframes) is dropped rather than
    /// held: memory per session stays bounded, and joiners just wait for the next keyframe.
    public let maxBytes: Int
    /// The cached GOP; empty or beginning with a keyframe chunk.
    public private(set) var chunks: [MediaChunk] = []
    /// Total bytes in `chunks`.
    public private(set) var byteCount = 0

    public init(maxBytes: Int = 16 << 20) {
        self.maxBytes = maxBytes
    }

    /// Whether there is a keyframe to start a viewer at.
    public var isEmpty: Bool { chunks.isEmpty }

    /// A keyframe chunk replaces the cache; other chunks extend it, unless there is no keyframe
    /// to extend (nothing before a keyframe is decodable) or the bound would be passed.
    public mutating func append(_ chunk: MediaChunk) {
        if chunk.keyframe {
            chunks = []
            byteCount = 0
        } else if chunks.isEmpty {
            return
        }
        guard byteCount + chunk.bytes.count <= maxBytes else {
            chunks = []
            byteCount = 0
            return
        }
        chunks.append(chunk)
        byteCount += chunk.bytes.count
    }

    /// What a new `stream.ts` viewer is sent first: PAT/PMT, then the cached GOP.
    public func startChunks(programInfo: [UInt8]?) -> [[UInt8]] {
        var out: [[UInt8]] = []
        out.reserveCapacity(chunks.count + 1)
        if let programInfo { out.append(programInfo) }
        for chunk in chunks { out.append(chunk.bytes) }
        return out
    }
}
