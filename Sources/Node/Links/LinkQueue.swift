import NIOCore
import Synchronization

/// The messages waiting for one peer, already encoded into the next frame's payload. Producers
/// (session actors) never wait: past `limitBytes` new messages are dropped and counted, which
/// replication repairs by retrying and media by skipping to the next keyframe.
final class LinkQueue: Sendable {
    private struct State {
        var payload = ByteBuffer()
        var waiter: CheckedContinuation<ByteBuffer?, Never>?
        var sink: DirectSink?
        var flushScheduled = false
    }

    /// An open link stream that `push` writes to itself, on the stream's event loop, instead of
    /// waking the link's sender task for every batch (a thread hand-off per message: at 1,000
    /// writes a second a primary sends 4,000 link messages).
    struct DirectSink: Sendable {
        let loop: any EventLoop
        /// Whether the stream takes more now (HTTP/2 flow control, socket buffer); while it
        /// does not, messages wait here, under the queue's limit, until `resume()`.
        let isWritable: @Sendable () -> Bool
        /// Writes one batch (runs on `loop`).
        let write: @Sendable (ByteBuffer) -> Void
    }
    private let state = Mutex(State())
    let limitBytes: Int

    init(limitBytes: Int) {
        self.limitBytes = limitBytes
    }

    /// Queues one message; false if it was dropped (queue full).
    func push(_ message: LinkMessage) -> Bool {
        let (accepted, wake, flushOn) = state.withLock {
            s -> (Bool, (CheckedContinuation<ByteBuffer?, Never>, ByteBuffer)?, (any EventLoop)?) in
            guard s.payload.readableBytes < limitBytes else { return (false, nil, nil) }
            message.encode(into: &s.payload)
            if let sink = s.sink {
                guard !s.flushScheduled else { return (true, nil, nil) }
                s.flushScheduled = true
                return (true, nil, sink.loop)
            }
            guard let waiter = s.waiter else { return (true, nil, nil) }
            s.waiter = nil
            defer { s.payload = ByteBuffer() }
            return (true, (waiter, s.payload), nil)
        }
        if let (waiter, payload) = wake { waiter.resume(returning: payload) }
        // Whatever is pushed before the loop gets to it leaves in the same batch.
        flushOn?.execute { self.flushDirect() }
        return accepted
    }

    /// From now on batches go straight to `sink`; what is queued leaves at once.
    func attach(_ sink: DirectSink) {
        let schedule = state.withLock { s -> Bool in
            s.sink = sink
            guard !s.flushScheduled, s.payload.readableBytes > 0 else { return false }
            s.flushScheduled = true
            return true
        }
        if schedule { sink.loop.execute { self.flushDirect() } }
    }

    /// The stream ended: messages wait for the next one (a batch in flight on it is lost, which
    /// replication repairs by retrying).
    func detach() {
        state.withLock { s in
            s.sink = nil
            s.flushScheduled = false
        }
    }

    /// The attached stream takes writes again: send what waited.
    func resume() {
        let loop = state.withLock { s -> (any EventLoop)? in
            guard let sink = s.sink, !s.flushScheduled, s.payload.readableBytes > 0 else { return nil }
            s.flushScheduled = true
            return sink.loop
        }
        loop?.execute { self.flushDirect() }
    }

    private enum FlushStep {
        case nothing
        case hop(any EventLoop)
        case write(DirectSink, ByteBuffer)
    }

    /// Runs on the attached stream's loop, so frames leave in push order. One scheduled before a
    /// reconnect can run on the old stream's loop: it moves to the new one rather than write
    /// from there, where a frame could overtake one the new loop writes first.
    private func flushDirect() {
        let step = state.withLock { s -> FlushStep in
            guard let sink = s.sink else {
                s.flushScheduled = false
                return .nothing
            }
            guard sink.loop.inEventLoop else { return .hop(sink.loop) }
            s.flushScheduled = false
            guard s.payload.readableBytes > 0, sink.isWritable() else { return .nothing }
            defer { s.payload = ByteBuffer() }
            return .write(sink, s.payload)
        }
        switch step {
        case .nothing: break
        case .hop(let loop): loop.execute { self.flushDirect() }
        case .write(let sink, let payload): sink.write(payload)
        }
    }

    var queuedBytes: Int { state.withLock { $0.payload.readableBytes } }

    /// Everything queued (one batch), waiting until there is something; nil when the waiting
    /// task is cancelled. Whatever accumulated while the previous batch was being written goes
    /// out together: batching comes from back-pressure, not from a timer.
    func take() async -> ByteBuffer? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<ByteBuffer?, Never>) in
                state.withLock { s in
                    // Checked under the lock that `onCancel` takes: a cancellation is seen either
                    // here or there, never missed. Not sticky: the next sender waits normally.
                    if Task.isCancelled {
                        continuation.resume(returning: nil)
                    } else if s.payload.readableBytes > 0 {
                        let payload = s.payload
                        s.payload = ByteBuffer()
                        continuation.resume(returning: payload)
                    } else {
                        s.waiter = continuation
                    }
                }
            }
        } onCancel: {
            state.withLock { s in
                s.waiter?.resume(returning: nil)
                s.waiter = nil
            }
        }
    }
}
