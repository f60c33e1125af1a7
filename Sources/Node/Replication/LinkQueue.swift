import NIOCore
import Synchronization

/// The messages waiting for one peer, already encoded into the next frame's payload. Producers
/// (session actors) never wait: past `limitBytes` new messages are dropped and counted, which
/// replication repairs by retrying and media by skipping to the next keyframe.
final class LinkQueue: Sendable {
    private struct State {
        var payload = ByteBuffer()
        var waiter: CheckedContinuation<ByteBuffer?, Never>?
    }
    private let state = Mutex(State())
    let limitBytes: Int

    init(limitBytes: Int) {
        self.limitBytes = limitBytes
    }

    /// Queues one message; false if it was dropped (queue full).
    func push(_ message: LinkMessage) -> Bool {
        let (accepted, wake) = state.withLock { s -> (Bool, (CheckedContinuation<ByteBuffer?, Never>, ByteBuffer)?) in
            guard s.payload.readableBytes < limitBytes else { return (false, nil) }
            message.encode(into: &s.payload)
            guard let waiter = s.waiter else { return (true, nil) }
            s.waiter = nil
            defer { s.payload = ByteBuffer() }
            return (true, (waiter, s.payload))
        }
        if let (waiter, payload) = wake { waiter.resume(returning: payload) }
        return accepted
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
