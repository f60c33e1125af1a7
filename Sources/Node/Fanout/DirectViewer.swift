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

    /// How its bytes are framed; resolved to a `Sink` on the event loop when it starts.
    let framing: ViewerFraming

    /// Where its writes go: through the pipeline, or below the HTTP/1.x encoder, framed here.
    private enum Sink {
        case pipeline
        case belowEncoder(ChannelHandlerContext, chunked: Bool)
    }

    // Event-loop confined.
    private var sink = Sink.pipeline
    private var ready = false
    private var finished = false
    private var pending: [ViewerBytes] = []
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
        framing: ViewerFraming = .http1(chunked: true),
        policy: Policy,
        limitBytes: Int,
        onSkip: @escaping @Sendable () -> Void
    ) {
        self.id = id
        self.user = user
        self.via = via
        self.startAfterSeq = startAfterSeq
        self.channel = channel
        self.framing = framing
        self.policy = policy
        self.limitBytes = limitBytes
        self.onSkip = onSkip
        self.done = channel.eventLoop.makePromise(of: Void.self)
        // Lets the writer fall this far behind before the channel reports "not writable". An
        // HTTP/2 stream channel traps on this option (its writability follows the stream's
        // flow-control window instead), so only a connection channel gets it.
        if framing != .http2Stream {
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
        channel.eventLoop.execute {
            self.resolveSink()
            self.writeBacklog(initial[...])
        }
    }

    /// An HTTP/1.x viewer writes below the response encoder when the pipeline has one (a test's
    /// bare channel has none and gets body parts).
    private func resolveSink() {
        guard case .http1(let chunked) = framing,
            let context = try? channel.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self)
        else { return }
        sink = .belowEncoder(context, chunked: chunked)
    }

    private func writeBacklog(_ rest: ArraySlice<ByteBuffer>) {
        guard !finished else { return }
        guard let last = rest.prefix(Self.backlogPiece).last else {
            for bytes in pending { write(bytes) }
            pending.removeAll()
            pendingBytes = 0
            ready = true
            flush()
            if finishWhenReady { finish() }
            return
        }
        let piece = rest.prefix(Self.backlogPiece)
        for buffer in piece.dropLast() { writeStart(buffer, promise: nil) }
        let next = rest.dropFirst(piece.count)
        if next.isEmpty {
            writeStart(last, promise: nil)
            writeBacklog(next)
            return
        }
        let written = channel.eventLoop.makePromise(of: Void.self)
        writeStart(last, promise: written)
        flush()
        written.futureResult.whenComplete { result in
            switch result {
            case .success: self.writeBacklog(next)
            case .failure: self.finish(close: true)
            }
        }
    }

    /// Whether it drops media until a keyframe (on the event loop).
    var isSkipping: Bool { skipping }

    /// Called on the event loop by `FanoutGroup`; the group flushes after the batch.
    func deliver(_ bytes: ViewerBytes, keyframe: Bool) {
        guard !finished else { return }
        guard ready else {
            pending.append(bytes)
            pendingBytes += bytes.plain.readableBytes
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
        write(bytes)
    }

    /// Writes one delivery, framed once for all viewers (not flushed).
    private func write(_ bytes: ViewerBytes) {
        switch sink {
        case .pipeline:
            channel.write(HTTPServerResponsePart.body(.byteBuffer(bytes.plain)), promise: nil)
        case .belowEncoder(let context, let chunked):
            context.write(NIOAny(IOData.byteBuffer(chunked ? bytes.chunk : bytes.plain)), promise: nil)
        }
    }

    private static let crlf = ByteBuffer(string: "\r\n")

    /// Writes one buffer of the viewer's start, framed here: a start is written once per viewer,
    /// so its chunks are framed in three writes rather than copied (a GOP can be megabytes).
    private func writeStart(_ buffer: ByteBuffer, promise: EventLoopPromise<Void>?) {
        guard case .belowEncoder(let context, let chunked) = sink else {
            channel.write(HTTPServerResponsePart.body(.byteBuffer(buffer)), promise: promise)
            return
        }
        guard chunked else {
            context.write(NIOAny(IOData.byteBuffer(buffer)), promise: promise)
            return
        }
        guard buffer.readableBytes > 0 else {
            promise?.succeed()
            return
        }
        var size = ByteBufferAllocator().buffer(capacity: 18)
        size.writeSizeLine(buffer.readableBytes)
        context.write(NIOAny(IOData.byteBuffer(size)), promise: nil)
        context.write(NIOAny(IOData.byteBuffer(buffer)), promise: nil)
        context.write(NIOAny(IOData.byteBuffer(Self.crlf)), promise: promise)
    }

    /// Flushes what was written, from where it was written (on the event loop).
    func flush() {
        switch sink {
        case .pipeline: channel.flush()
        case .belowEncoder(let context, _): context.flush()
        }
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
        if close { channel.close(promise: nil) } else { flush() }
        done.succeed()
    }
}
