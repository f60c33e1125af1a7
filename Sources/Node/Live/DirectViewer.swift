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
        channel: any Channel,
        policy: Policy,
        limitBytes: Int,
        onSkip: @escaping @Sendable () -> Void
    ) {
        self.id = id
        self.user = user
        self.channel = channel
        self.policy = policy
        self.limitBytes = limitBytes
        self.onSkip = onSkip
        self.done = channel.eventLoop.makePromise(of: Void.self)
        // Lets the writer fall this far behind before the channel reports "not writable".
        channel.setOption(
            ChannelOptions.writeBufferWaterMark,
            value: .init(low: limitBytes / 2, high: limitBytes)
        ).whenComplete { _ in }
        channel.closeFuture.whenComplete { _ in self.finish() }
    }

    /// Starts live delivery: writes `initial` (backlog, or PAT/PMT + GOP), then whatever
    /// arrived since registration, in order.
    func activate(initial: [ByteBuffer]) {
        channel.eventLoop.execute {
            guard !self.finished else { return }
            for buffer in initial { self.write(buffer) }
            for buffer in self.pending { self.write(buffer) }
            self.pending.removeAll()
            self.ready = true
            self.channel.flush()
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
        finished = true
        pending.removeAll()
        if close { channel.close(promise: nil) } else { channel.flush() }
        done.succeed()
    }
}

/// The viewers of one session, grouped by event loop, so that one buffer costs one task per
/// loop (two on this machine) rather than one per viewer.
final class FanoutGroup: Sendable {
    private struct LoopViewers: Sendable {
        var loop: any EventLoop
        var viewers: [UInt64: DirectViewer]
    }

    private let loops = Mutex<[ObjectIdentifier: LoopViewers]>([:])

    func add(_ viewer: DirectViewer) {
        let key = ObjectIdentifier(viewer.channel.eventLoop)
        loops.withLock { all in
            all[key, default: LoopViewers(loop: viewer.channel.eventLoop, viewers: [:])].viewers[viewer.id] = viewer
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

    /// Hands `buffer` to every viewer: one event-loop task per loop, one flush per viewer.
    func broadcast(_ buffer: ByteBuffer, keyframe: Bool = false) {
        let snapshot = loops.withLock { Array($0.values) }
        for entry in snapshot where !entry.viewers.isEmpty {
            let viewers = Array(entry.viewers.values)
            entry.loop.execute {
                for viewer in viewers { viewer.deliver(buffer, keyframe: keyframe) }
                for viewer in viewers { viewer.channel.flush() }
            }
        }
    }

    /// Finishes the viewers matching `filter` (all by default) after what is already queued.
    func finish(where filter: (DirectViewer) -> Bool = { _ in true }) -> [UInt64] {
        let chosen = loops.withLock { all -> [DirectViewer] in
            var out: [DirectViewer] = []
            for key in all.keys {
                for (id, viewer) in all[key]!.viewers where filter(viewer) {
                    out.append(viewer)
                    all[key]!.viewers[id] = nil
                }
            }
            return out
        }
        for viewer in chosen { viewer.finish() }
        return chosen.map(\.id)
    }
}
