import Live
import NIOCore

/// One session's live as fragmented MP4 on one node (`stream.mp4`, what Media Source Extensions
/// play): the muxer fed with the same chunks as the TS side, the latest init segment, the
/// fragments since the latest keyframe (a new viewer starts with a picture at once, as with the
/// TS GOP cache), and the fan-out to `stream.mp4` viewers.
///
/// Owned by `MediaPipeline`, used only on its host's actor.
final class FMP4Stream {
    /// A GOP larger than this is dropped rather than held (as `GOPCache` does for TS): memory
    /// per session stays bounded and joiners wait for the next keyframe.
    static let maxGOPBytes = 16 << 20

    private var muxer: FMP4Muxer?
    private var initSegment: ByteBuffer?
    private var gop: [ByteBuffer] = []
    private var gopBytes = 0
    /// `stream.mp4` viewers. An init segment is sent flagged as a keyframe, so a viewer that
    /// skipped behind resumes at an init segment or at a keyframe fragment, never mid-GOP.
    let fanout: FanoutGroup
    /// Pieces fanned out so far: a viewer's start (init + GOP) covers up to this one.
    private(set) var pieceSeq: UInt64 = 0

    /// - Parameter batch: how long fragments gather before they go to a viewer as one write.
    init(batch: TimeAmount) {
        fanout = FanoutGroup(minPeriod: batch)
    }

    /// Feeds one demuxed chunk. `demuxer` tells the program's PIDs; nothing is muxed before the
    /// PMT named them.
    func feed(_ chunk: MediaChunk, demuxer: TSDemuxer) {
        if muxer == nil {
            guard demuxer.videoPID != nil || !demuxer.audioPIDs.isEmpty else { return }
            muxer = FMP4Muxer(
                videoPID: demuxer.videoPID,
                videoCodec: demuxer.videoCodec,
                audioPID: demuxer.audioPIDs.first
            )
        }
        guard let pieces = muxer?.feed(chunk), !pieces.isEmpty else { return }
        emit(pieces)
    }

    /// The end of the stream: what the muxer still holds goes out.
    func finish() {
        guard let pieces = muxer?.finish(), !pieces.isEmpty else { return }
        emit(pieces)
    }

    /// A new stream (reconnecting broadcaster, new primary): a new muxer, whose init segment
    /// and first keyframe start viewers over. Viewers already attached stay; MSE in "sequence"
    /// mode plays the new timeline on from where the old one stopped.
    func restart() {
        muxer = nil
        gop = []
        gopBytes = 0
    }

    /// What a new `stream.mp4` viewer is sent first: the init segment and the fragments since the
    /// latest keyframe (none while an oversized GOP was dropped: the browser's demuxer waits for
    /// the next keyframe); empty before the first init segment, which then comes live.
    var startPieces: [ByteBuffer] {
        guard let initSegment else { return [] }
        return [initSegment] + gop
    }

    private func emit(_ pieces: [FMP4Piece]) {
        for piece in pieces {
            switch piece {
            case .initSegment(let bytes):
                let buffer = ByteBuffer(bytes: bytes)
                initSegment = buffer
                gop = []
                gopBytes = 0
                pieceSeq += 1
                fanout.broadcast(buffer, seq: pieceSeq, keyframe: true)
            case .fragment(let bytes, let keyframe):
                let buffer = ByteBuffer(bytes: bytes)
                if keyframe {
                    gop = []
                    gopBytes = 0
                }
                if keyframe || !gop.isEmpty {
                    if gopBytes + buffer.readableBytes <= Self.maxGOPBytes {
                        gop.append(buffer)
                        gopBytes += buffer.readableBytes
                    } else {
                        gop = []
                        gopBytes = 0
                    }
                }
                pieceSeq += 1
                fanout.broadcast(buffer, seq: pieceSeq, keyframe: keyframe)
            }
        }
    }
}
