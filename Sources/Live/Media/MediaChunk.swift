/// A run of whole transport packets as they came from the ingest, the unit that is fanned out
/// to viewers, cached for late joiners and cut into HLS segments.
public struct MediaChunk: Sendable, Equatable {
    /// Whole 188-byte packets, verbatim.
    public var bytes: [UInt8]
    /// True iff `bytes` begin with the first packet of a keyframe access unit (or, in a stream
    /// without video, of an audio PES): a decoder can start here, a segment can be cut here.
    public var keyframe: Bool
    /// The PTS of that keyframe, or else of the first PES start (with a PTS) in the chunk.
    public var pts: UInt64?

    public init(bytes: [UInt8], keyframe: Bool, pts: UInt64?) {
        self.bytes = bytes
        self.keyframe = keyframe
        self.pts = pts
    }
}
