import NIOCore
import NIOHTTP1
import Synchronization

/// One viewer connection (an SSE or `stream.ts` response) written directly on its channel's
/// event loop: the session hands each encoded buffer to every viewer's loop once, and the
/// loop writes it to all its viewers and flushes once (see `FanoutGroup`). No task wakes per
/// viewer per event; that is what lets one node feed thousands of viewers.
///
/// All mutable state is confined to the channel's event loop (hence `@unchecked Sendable`).
final class DirectViewer: @unchecked Sendable {
    enum Policy: Sendable {
        /// Events never skip: a viewer that falls behind is cut off and resumes by Last-Event-ID.
        case disconnectWhenBehind
        /// Media may skip: a viewer that falls behind drops whole GOPs until the next keyframe.
        case skipToKeyframe
    }

    let id: UInt64
    let user: String
    /// The group the viewer came through when the live was shared into it (nil: the session's
    /// own): an unshare closes exactly these.
    let via: String?
    /// The last event seq its backlog holds; later ones come live.
    let startAfterSeq: UInt64
    let channel: any Channel
    let policy: Policy
    /// Completed when the viewer is done (session ended, kicked, cut off, or gone).
    let done: EventLoopPromise<Void>

    // Event-loop confined.
    private var ready = false
    private var finished = false
    private var pending: [ByteBuffer] = []
    private var pendingBytes = 0
    private var skipping = false
    private let limitBytes: Int
    private let onSkip: @Sendable () -> Void

    init(
        id: UInt64,
        user: String,
        via: String? = nil,
        startAfterSeq: UInt64 = 0,
        channel: any Channel,
        isHTTP2: Bool = false,
        policy: Policy,
        limitBytes: Int,
        onSkip: @escaping @Sendable () -> Void
    ) {
        self.id = id
        self.user = user
        self.via = via
        self.startAfterSeq = startAfterSeq
        self.channel = channel
        self.policy = policy
        self.limitBytes = limitBytes
        self.onSkip = onSkip
        self.done = channel.eventLoop.makePromise(of: Void.self)
        // Lets the writer fall this far behind before the channel reports "not writable". An
        // HTTP/2 stream channel traps on this option (its writability follows the stream's
        // flow-control window instead), so only a connection channel gets it.
        if !isHTTP2 {
            channel.setOption(
                ChannelOptions.writeBufferWaterMark,
                value: .init(low: limitBytes / 2, high: limitBytes)
            ).whenComplete { _ in }
        }
        channel.closeFuture.whenComplete { _ in self.finish() }
    }

    /// Buffers of a backlog written per piece: the next piece is written once the last one has
    /// left for the socket, so a resume from seq 0 of a long session holds one piece in the
    /// channel, not the whole log (`Last-Event-ID: 0` on 100k events was 100k queued writes).
    static let backlogPiece = 256
    /// A `finish()` that came while the backlog was still being written: done after it.
    private var finishWhenReady = false

    /// Starts live delivery: writes `initial` (backlog, or PAT/PMT + GOP) in pieces of
    /// `backlogPiece`, then whatever arrived since registration, in order.
    func activate(initial: [ByteBuffer]) {
        channel.eventLoop.execute { self.writeBacklog(initial[...]) }
    }

    private func writeBacklog(_ rest: ArraySlice<ByteBuffer>) {
        guard !finished else { return }
        guard let last = rest.prefix(Self.backlogPiece).last else {
            for buffer in pending { write(buffer) }
            pending.removeAll()
            pendingBytes = 0
            ready = true
            channel.flush()
            if finishWhenReady { finish() }
            return
        }
        let piece = rest.prefix(Self.backlogPiece)
        for buffer in piece.dropLast() { write(buffer) }
        let next = rest.dropFirst(piece.count)
        if next.isEmpty {
            write(last)
            writeBacklog(next)
            return
        }
        channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(last))).whenComplete { result in
            switch result {
            case .success: self.writeBacklog(next)
            case .failure: self.finish(close: true)
            }
        }
    }

    /// Called on the event loop by `FanoutGroup`; the group flushes after the batch.
    func deliver(_ buffer: ByteBuffer, keyframe: Bool) {
        guard !finished else { return }
        guard ready else {
            pending.append(buffer)
            pendingBytes += buffer.readableBytes
            if pendingBytes > limitBytes { finish(close: true) }
            return
        }
        if skipping {
            guard keyframe && channel.isWritable else { return }
            skipping = false
        }
        if !channel.isWritable {
            switch policy {
            case .disconnectWhenBehind:
                onSkip()
                finish(close: true)
                return
            case .skipToKeyframe:
                skipping = true
                onSkip()
                return
            }
        }
        write(buffer)
    }

    private func write(_ buffer: ByteBuffer) {
        channel.write(HTTPServerResponsePart.body(.byteBuffer(buffer)), promise: nil)
    }

    /// Ends delivery (on the event loop, or hops there). With `close`, cuts the connection.
    func finish(close: Bool = false) {
        guard channel.eventLoop.inEventLoop else {
            channel.eventLoop.execute { self.finish(close: close) }
            return
        }
        guard !finished else { return }
        if !ready && !close {
            // Still writing the backlog: end after it (an ended session's viewer gets it all).
            finishWhenReady = true
            return
        }
        finished = true
        pending.removeAll()
        if close { channel.close(promise: nil) } else { channel.flush() }
        done.succeed()
    }
}

/// The viewers of one session, grouped by event loop, so that one buffer costs one task per
/// loop (two on this machine) rather than one per viewer.
///
/// Each loop flushes at most once per window, and the window grows with the loop's viewers:
/// `perViewerFlush` per viewer, at most `maxWindow`. A flush costs a pipeline write and a syscall
/// per viewer (~10-20 µs here), so this bounds the share of a loop one session's flushes take
/// (25k viewer writes a second with the defaults) rather than fixing a delay: a session with a
/// few viewers flushes every event at once (its latency is what a viewer sees of cross-node
/// replication), one with 250 or more viewers on a loop coalesces up to 10 ms of events into one
/// write per viewer, which is what keeps thousands fed (with a 5 ms window at 500 viewers a
/// loop, a 2-core node fell from 497k to 133k deliveries a second).
/// An event published when the loop has not flushed for a window goes out at once. Each buffer
/// carries the event `seq` it holds (nil for stats and pings), and each viewer the last seq of
/// its backlog, so a viewer subscribed while a batch was pending never sees an event twice.
final class FanoutGroup: Sendable {
    private struct Pending: Sendable {
        var buffer: ByteBuffer
        var seq: UInt64?
        var keyframe = false
    }

    private struct LoopViewers: Sendable {
        var loop: any EventLoop
        var viewers: [UInt64: DirectViewer] = [:]
        var pending: [Pending] = []
        var flushScheduled = false
        var lastFlush: NIODeadline = .distantPast
    }

    private let loops = Mutex<[ObjectIdentifier: LoopViewers]>([:])
    private let perViewerFlush: TimeAmount
    private let maxWindow: TimeAmount
    /// Events merge a batch into one buffer per viewer; media does not, since a viewer that
    /// skips to the next keyframe must see where each chunk starts.
    private let merges: Bool

    /// - Parameters:
    ///   - perViewerFlush: the window each viewer on a loop adds (default 40 µs).
    ///   - maxWindow: the longest a loop coalesces events (default 10 ms).
    ///   - merges: whether a batch goes to each viewer as one buffer (events) or chunk by chunk,
    ///     with keyframe flags (media).
    init(
        perViewerFlush: TimeAmount = .microseconds(40),
        maxWindow: TimeAmount = .milliseconds(10),
        merges: Bool = true
    ) {
        self.perViewerFlush = perViewerFlush
        self.maxWindow = maxWindow
        self.merges = merges
    }

    func add(_ viewer: DirectViewer) {
        let key = ObjectIdentifier(viewer.channel.eventLoop)
        loops.withLock { all in
            all[key, default: LoopViewers(loop: viewer.channel.eventLoop)].viewers[viewer.id] = viewer
        }
    }

    @discardableResult
    func remove(_ id: UInt64) -> DirectViewer? {
        loops.withLock { all in
            for key in all.keys {
                if let viewer = all[key]?.viewers.removeValue(forKey: id) { return viewer }
            }
            return nil
        }
    }

    var count: Int { loops.withLock { $0.values.reduce(0) { $0 + $1.viewers.count } } }

    /// Queues `buffer` for every viewer; `seq` is the event (or media chunk) it carries, if any;
    /// `keyframe` marks a media chunk a skipping viewer may resume at.
    func broadcast(_ buffer: ByteBuffer, seq: UInt64? = nil, keyframe: Bool = false) {
        let now = NIODeadline.now()
        let toSchedule = loops.withLock { all -> [(ObjectIdentifier, any EventLoop, TimeAmount)] in
            var out: [(ObjectIdentifier, any EventLoop, TimeAmount)] = []
            for key in all.keys where !all[key]!.viewers.isEmpty {
                all[key]!.pending.append(Pending(buffer: buffer, seq: seq, keyframe: keyframe))
                if !all[key]!.flushScheduled {
                    all[key]!.flushScheduled = true
                    let viewers = Int64(all[key]!.viewers.count)
                    let window = TimeAmount.nanoseconds(
                        min(maxWindow.nanoseconds, perViewerFlush.nanoseconds * viewers)
                    )
                    let due = all[key]!.lastFlush + window
                    out.append((key, all[key]!.loop, due > now ? due - now : .zero))
                }
            }
            return out
        }
        for (key, loop, delay) in toSchedule {
            if delay == .zero {
                loop.execute { self.flush(key) }
            } else {
                loop.scheduleTask(in: delay) { self.flush(key) }
            }
        }
    }

    /// Writes what is pending on one loop to its viewers (runs on that loop).
    private func flush(_ key: ObjectIdentifier) {
        let (viewers, pending) = loops.withLock { all -> ([DirectViewer], [Pending]) in
            guard var entry = all[key] else { return ([], []) }
            let taken = entry.pending
            entry.pending.removeAll()
            entry.flushScheduled = false
            entry.lastFlush = .now()
            all[key] = entry
            return (Array(entry.viewers.values), taken)
        }
        guard !pending.isEmpty, !viewers.isEmpty else { return }
        guard merges else {
            for viewer in viewers {
                for item in pending where item.seq.map({ $0 > viewer.startAfterSeq }) ?? true {
                    viewer.deliver(item.buffer, keyframe: item.keyframe)
                }
            }
            for viewer in viewers { viewer.channel.flush() }
            return
        }
        var merged = ByteBuffer()
        if pending.count == 1 {
            merged = pending[0].buffer
        } else {
            merged.reserveCapacity(pending.reduce(0) { $0 + $1.buffer.readableBytes })
            for item in pending { merged.writeImmutableBuffer(item.buffer) }
        }
        let firstSeq = pending.lazy.compactMap(\.seq).first
        for viewer in viewers {
            if let firstSeq, firstSeq <= viewer.startAfterSeq {
                // Subscribed while this batch was pending: skip what its backlog already had.
                for item in pending where item.seq.map({ $0 > viewer.startAfterSeq }) ?? true {
                    viewer.deliver(item.buffer, keyframe: false)
                }
            } else {
                viewer.deliver(merged, keyframe: false)
            }
        }
        for viewer in viewers { viewer.channel.flush() }
    }

    /// Finishes the viewers matching `filter` (all by default) once what is already published
    /// has been written to them.
    func finish(where filter: @escaping @Sendable (DirectViewer) -> Bool = { _ in true }) -> [UInt64] {
        let chosen = loops.withLock { all -> [(ObjectIdentifier, DirectViewer)] in
            all.flatMap { key, entry in entry.viewers.values.filter(filter).map { (key, $0) } }
        }
        for (key, viewer) in chosen {
            viewer.channel.eventLoop.execute {
                self.flush(key)
                self.remove(viewer.id)
                viewer.finish()
            }
        }
        return chosen.map(\.1.id)
    }
}
