import Foundation
import Live
import Logging
import NIOCore

/// One live session held by this node: its event log (in memory and on disk), its domain state,
/// its media pipeline (demuxer, GOP cache, HLS window, recording) and its viewers.
///
/// Writes are decided and applied in this actor's order, so `seq` is assigned without gaps;
/// each is acknowledged and shown to viewers only once it is durable, in `seq` order.
actor SessionHost {
    nonisolated let sessionID: String
    nonisolated let group: String
    let directory: String
    private var session: LiveSession
    private let log: AppendLog
    private let logger: Logger
    private let settings: LiveSettings
    private let metrics: LiveMetrics

    /// Every event of the session, index = seq - 1; and its SSE rendering, encoded once.
    private(set) var events: [LiveEvent] = []
    private var rendered: [ByteBuffer] = []
    /// Highest seq known durable, and highest shown to viewers.
    private var durableSeq: UInt64 = 0
    private var publishedSeq: UInt64 = 0
    private var durableWaiters: [UInt64: [CheckedContinuation<Void, Never>]] = [:]

    private let eventFanout = FanoutGroup()
    private var mediaViewers: [UInt64: (user: String, queue: ViewerQueue)] = [:]
    private var nextViewerID: UInt64 = 0
    private var statsDirty = false
    private var lastPing = ContinuousClock.now

    // Media.
    private var demuxer = TSDemuxer()
    private var gop = GOPCache()
    private var segmenter: HLSSegmenter
    private var segmentBuffers: [Int: ByteBuffer] = [:]
    private(set) var ingestActive = false
    private(set) var lastIngestEnd: ContinuousClock.Instant?
    private var recording: Recording?

    init(
        state: LiveSessionState,
        events: [LiveEvent],
        directory: String,
        settings: LiveSettings,
        restored: Bool,
        metrics: LiveMetrics,
        logger: Logger
    ) throws(StorageError) {
        self.metrics = metrics
        self.sessionID = state.info.id
        self.group = state.info.group
        self.directory = directory
        self.settings = settings
        self.session = LiveSession(state: state, settings: settings.session, filter: settings.filter)
        self.log = try AppendLog(path: directory + "/events.log")
        var logger = logger
        logger[metadataKey: "live.session"] = "\(state.info.id)"
        logger[metadataKey: "live.group"] = "\(state.info.group)"
        self.logger = logger
        self.segmenter = HLSSegmenter(targetDuration: settings.hlsTargetDuration, windowSize: settings.hlsWindow)
        self.events = events
        self.rendered = events.map(SessionHost.sse)
        self.durableSeq = UInt64(events.count)
        self.publishedSeq = UInt64(events.count)
        if state.info.record {
            self.recording = try Recording(directory: directory + "/media")
        }
        // A restored live session counts its grace from the restart; a new one only once its
        // first ingest ends.
        self.lastIngestEnd = restored ? ContinuousClock.now : nil
    }

    var state: LiveSessionState { session.state }
    /// Host, title, record: known once the `started` event is applied.
    var info: SessionInfo { session.state.info }

    // MARK: Writes

    /// What a write produced.
    enum WriteResult: Sendable {
        case logged(seq: UInt64)
        case likes(total: Int64)
    }

    /// Decides, applies, logs durably and publishes one command.
    func write(_ command: LiveCommand, by actor: LiveActor, now: Int64) async throws -> WriteResult {
        switch session.decide(command, by: actor, now: now) {
        case .failure(let error):
            throw error
        case .success(.likes(let total)):
            statsDirty = true
            return .likes(total: total)
        case .success(.duplicate(let seq)):
            await waitDurable(seq)
            return .logged(seq: seq)
        case .success(.append(let event)):
            let started = ContinuousClock.now
            try session.apply(event)
            events.append(event)
            rendered.append(Self.sse(event))
            let record = Array(try JSONCoding.encoder.encode(event))
            try await log.append([record])
            markDurable(event.seq)
            metrics.eventsLogged.increment()
            metrics.writeLatency.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
            await afterApply(event)
            return .logged(seq: event.seq)
        }
    }

    private func markDurable(_ seq: UInt64) {
        // The log commits in FIFO order: everything up to `seq` is on disk now.
        durableSeq = max(durableSeq, seq)
        while publishedSeq < durableSeq {
            publishedSeq += 1
            eventFanout.broadcast(rendered[Int(publishedSeq) - 1], seq: publishedSeq)
            metrics.eventDeliveries.increment(by: Int64(eventFanout.count))
        }
        for (waitSeq, waiters) in durableWaiters where waitSeq <= durableSeq {
            waiters.forEach { $0.resume() }
            durableWaiters[waitSeq] = nil
        }
    }

    private func waitDurable(_ seq: UInt64) async {
        guard seq > durableSeq else { return }
        await withCheckedContinuation { durableWaiters[seq, default: []].append($0) }
    }

    /// Side effects of an event on live connections.
    private func afterApply(_ event: LiveEvent) async {
        statsDirty = true
        switch event.type {
        case .started where event.record == true && recording == nil:
            do {
                recording = try Recording(directory: directory + "/media")
            } catch {
                logger.error("cannot record this session", metadata: ["error": "\(error)"])
            }
        case .kick:
            guard let user = event.targetUser else { return }
            for _ in eventFanout.finish(where: { $0.user == user }) { metrics.eventViewers.decrement() }
            updateViewers()
            for (id, viewer) in mediaViewers where viewer.user == user { unsubscribeMedia(id) }
        case .ended:
            await finishMedia()
            for _ in eventFanout.finish() { metrics.eventViewers.decrement() }
            for id in Array(mediaViewers.keys) { unsubscribeMedia(id) }
        default:
            break
        }
    }

    // MARK: Event viewers

    /// Registers an event viewer writing to `channel` and returns it with the backlog after
    /// `after`, atomically: the viewer buffers every event published from this instant until
    /// it is activated with the backlog, so it sees each event once, in order.
    func subscribeEvents(
        user: String,
        channel: any Channel,
        after: UInt64
    ) -> (viewer: DirectViewer, backlog: [ByteBuffer]) {
        let from = Int(min(after, publishedSeq))
        let backlog = Array(rendered[from..<Int(publishedSeq)])
        nextViewerID += 1
        let metrics = self.metrics
        let viewer = DirectViewer(
            id: nextViewerID,
            user: user,
            startAfterSeq: publishedSeq,
            channel: channel,
            policy: .disconnectWhenBehind,
            limitBytes: settings.eventQueueBytes,
            onSkip: { metrics.viewersDisconnected.increment() }
        )
        if session.state.phase != .ended {
            eventFanout.add(viewer)
            metrics.eventViewers.increment()
            updateViewers()
        }
        return (viewer, backlog)
    }

    func unsubscribeEvents(_ id: UInt64) {
        guard eventFanout.remove(id) != nil else { return }
        metrics.eventViewers.decrement()
        updateViewers()
    }

    // MARK: Media

    /// Feeds ingest bytes: demux, cache, segment, record, fan out. Never waits on viewers.
    func ingest(_ bytes: ByteBuffer) async throws {
        metrics.ingestBytes.increment(by: Int64(bytes.readableBytes))
        let chunks = demuxer.feed(bytes.readableBytesView)
        for chunk in chunks {
            let buffer = ByteBuffer(bytes: chunk.bytes)
            for (_, viewer) in mediaViewers {
                let skippedBefore = viewer.queue.gopsSkipped
                viewer.queue.push(.init(buffer, keyframe: chunk.keyframe))
                if viewer.queue.gopsSkipped > skippedBefore { metrics.gopsSkipped.increment() }
            }
            metrics.mediaBytesQueued.increment(by: Int64(buffer.readableBytes * mediaViewers.count))
            gop.append(chunk)
            for segment in segmenter.append(chunk, programInfo: demuxer.programInfo) {
                try await store(segment)
            }
        }
    }

    func ingestStarted() -> Bool {
        guard !ingestActive else { return false }
        ingestActive = true
        return true
    }

    /// Whether the ingest has been away longer than `grace` (the session should end).
    func ingestGraceExpired(_ grace: Duration) -> Bool {
        guard !ingestActive, session.state.phase == .live, let last = lastIngestEnd else { return false }
        return ContinuousClock.now - last >= grace
    }

    func ingestEnded() {
        ingestActive = false
        lastIngestEnd = ContinuousClock.now
    }

    private func store(_ segment: HLSSegment) async throws {
        segmentBuffers[segment.sequence] = ByteBuffer(bytes: segment.bytes)
        let keep = Set(segmenter.window.map(\.sequence))
        for key in segmentBuffers.keys where !keep.contains(key) && key != segment.sequence {
            segmentBuffers[key] = nil
        }
        try await recording?.write(segment)
    }

    private func finishMedia() async {
        if let last = segmenter.finish(lastPTS: demuxer.endPTS) {
            do { try await store(last) } catch {
                logger.error("cannot store final segment", metadata: ["error": "\(error)"])
            }
        }
        ingestActive = false
    }

    /// Registers a `stream.ts` viewer: PAT/PMT and the cached GOP first, then live chunks.
    func subscribeMedia(user: String) -> (start: [ByteBuffer], queue: ViewerQueue, id: UInt64) {
        let start = gop.startChunks(programInfo: demuxer.programInfo).map { ByteBuffer(bytes: $0) }
        let queue = ViewerQueue(limitBytes: settings.mediaQueueBytes, policy: .skipToKeyframe)
        if session.state.phase == .ended {
            queue.close()
            return (start, queue, 0)
        }
        nextViewerID += 1
        mediaViewers[nextViewerID] = (user, queue)
        metrics.mediaViewers.increment()
        updateViewers()
        return (start, queue, nextViewerID)
    }

    func unsubscribeMedia(_ id: UInt64) {
        guard let viewer = mediaViewers.removeValue(forKey: id) else { return }
        viewer.queue.close()
        metrics.mediaViewers.decrement()
        updateViewers()
    }

    /// The live HLS playlist, or nil before the first segment.
    func livePlaylist(uri: @Sendable (Int) -> String) -> String? {
        guard !segmenter.window.isEmpty else { return nil }
        return HLSPlaylist.live(
            window: segmenter.window,
            targetDuration: settings.hlsTargetDuration,
            ended: session.state.phase == .ended,
            uri: uri
        )
    }

    func segment(_ sequence: Int) -> ByteBuffer? { segmentBuffers[sequence] }

    // MARK: Stats and pings

    private func updateViewers() {
        session.setViewers(eventFanout.count + mediaViewers.count)
        statsDirty = true
    }

    /// Called about once a second: a `stats` event if anything changed, `: ping` every 15 s.
    func tick() {
        if statsDirty {
            statsDirty = false
            let s = session.state
            let line =
                "event: stats\ndata: {\"likes\":\(s.likes),\"tipsTotal\":\(s.tipsTotal),\"viewers\":\(s.viewers)}\n\n"
            eventFanout.broadcast(ByteBuffer(string: line))
        }
        if ContinuousClock.now - lastPing >= settings.pingInterval {
            lastPing = ContinuousClock.now
            eventFanout.broadcast(ByteBuffer(string: ": ping\n\n"))
        }
    }

    func isKicked(_ user: String) -> Bool { session.state.kicked.contains(user) }

    /// One event as SSE: `id`, `event`, `data` lines.
    static func sse(_ event: LiveEvent) -> ByteBuffer {
        ByteBuffer(string: "id: \(event.seq)\nevent: \(event.type.rawValue)\ndata: \(event.apiJSON())\n\n")
    }
}
