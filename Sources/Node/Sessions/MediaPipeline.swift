import Live
import Logging
import NIOCore

/// One session's media on one node: the demuxer the ingest (or the primary's relay) feeds, the
/// GOP cache a new `stream.ts` viewer starts from, the HLS window and its segments, the recording,
/// the fan-out to `stream.ts` viewers, and the same live as fragmented MP4 (`stream.mp4`).
///
/// Owned by its `SessionHost` and used only on the host's actor (not `Sendable`); it knows
/// nothing of replication or of the event log.
final class MediaPipeline {
    private let settings: LiveSettings
    private let metrics: LiveMetrics
    private var demuxer = TSDemuxer()
    private var gop = GOPCache()
    private var segmenter: HLSSegmenter
    private var segmentBuffers: [Int: ByteBuffer] = [:]
    private var recording: Recording?
    /// Set while the disk is below `--min-free-disk`: segments are not recorded (the live and
    /// its HLS window go on).
    var recordingPaused = false
    /// `stream.ts` viewers.
    let fanout: FanoutGroup
    /// The same live as fragmented MP4, and its `stream.mp4` viewers.
    let mp4: FMP4Stream
    /// Media chunks fanned out so far: a viewer's start (PAT/PMT + GOP) covers up to this one.
    private(set) var chunkSeq: UInt64 = 0
    /// The epoch whose primary the current media stream comes from.
    private(set) var epoch: UInt64 = 0

    init(settings: LiveSettings, metrics: LiveMetrics) {
        self.settings = settings
        self.metrics = metrics
        self.segmenter = HLSSegmenter(targetDuration: settings.hlsTargetDuration, windowSize: settings.hlsWindow)
        let batch = TimeAmount.nanoseconds(settings.mediaBatch.nanoseconds)
        fanout = FanoutGroup(minPeriod: batch)
        mp4 = FMP4Stream(batch: batch)
    }

    /// Demux, cache, segment, record, fan out.
    func feed(_ bytes: ByteBuffer, logger: Logger) throws {
        let chunks = demuxer.feed(bytes.readableBytesView)
        for chunk in chunks {
            let buffer = ByteBuffer(bytes: chunk.bytes)
            chunkSeq += 1
            fanout.broadcast(buffer, seq: chunkSeq, keyframe: chunk.keyframe)
            metrics.mediaBytesQueued.increment(by: Int64(buffer.readableBytes * fanout.count))
            gop.append(chunk)
            mp4.feed(chunk, demuxer: demuxer)
            for segment in segmenter.append(chunk, programInfo: demuxer.programInfo) {
                store(segment, logger: logger)
            }
        }
    }

    /// A new stream (a reconnecting broadcaster, a new primary's relay) of `epoch`: drop the
    /// partial PES and GOP of the last one, so new viewers never get a frame spliced from two.
    func restart(epoch: UInt64) {
        self.epoch = epoch
        demuxer = TSDemuxer()
        gop = GOPCache()
        mp4.restart()
    }

    /// Starts recording segments under `directory` (once).
    func record(in directory: String) throws(StorageError) {
        guard recording == nil else { return }
        let metrics = metrics
        recording = try Recording(
            directory: directory,
            maxBytes: settings.maxRecordingBytes,
            maxQueuedBytes: settings.recordingQueueBytes
        ) { reason in
            metrics.recordingsStopped(reason)
        }
    }

    /// The end: cuts the last segment (recorded too).
    func finish(logger: Logger) {
        mp4.finish()
        if let last = segmenter.finish(lastPTS: demuxer.endPTS) { store(last, logger: logger) }
    }

    /// The recording, if this session records: `flush` waits until its segments are on disk.
    var currentRecording: Recording? { recording }

    private func store(_ segment: HLSSegment, logger: Logger) {
        segmentBuffers[segment.sequence] = ByteBuffer(bytes: segment.bytes)
        let keep = Set(segmenter.window.map(\.sequence))
        for key in segmentBuffers.keys where !keep.contains(key) && key != segment.sequence {
            segmentBuffers[key] = nil
        }
        if !recordingPaused { recording?.write(segment, logger: logger) }
    }

    /// PAT/PMT and the cached GOP: what a new `stream.ts` viewer starts with.
    var startChunks: [ByteBuffer] { gop.startChunks(programInfo: demuxer.programInfo).map { ByteBuffer(bytes: $0) } }

    /// Where the live is on its media timeline (the replay's), in ms: an event's `mediaTime`.
    var timelineMillis: Int64? { segmenter.timeline.map { Int64(($0 * 1000).rounded()) } }

    /// The live HLS playlist, or nil before the first segment.
    func playlist(ended: Bool, uri: @Sendable (Int) -> String) -> String? {
        guard !segmenter.window.isEmpty else { return nil }
        return HLSPlaylist.live(
            window: segmenter.window,
            targetDuration: settings.hlsTargetDuration,
            ended: ended,
            uri: uri
        )
    }

    func segment(_ sequence: Int) -> ByteBuffer? { segmentBuffers[sequence] }
}
