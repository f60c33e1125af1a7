import NIOCore
import Synchronization

/// A bounded hand-off of body chunks from the task that reads a request (the producer) to the
/// task that forwards them to a peer (the consumer), with back-pressure both ways: a full pipe
/// suspends the producer (so the client's socket slows, nothing is dropped), an empty one the
/// consumer.
///
/// The consumer can `fail` the pipe (its peer went away): the producer's pending and next
/// `send` answer false and the chunks it holds are dropped, so the producer, which kept
/// reading the client, can start a new pipe to another peer without having read the body in
/// a task that was cancelled (a cancelled read would end the client's body for good).
final class ChunkPipe: Sendable {
    private struct State {
        var buffer: [ByteBuffer] = []
        var finished = false
        var failed = false
        var consumer: CheckedContinuation<ByteBuffer?, Never>?
        var producer: CheckedContinuation<Bool, Never>?
    }

    private let capacity: Int
    private let state = Mutex(State())

    /// `capacity` chunks may wait in the pipe. Default 16 (a few hundred KiB of media).
    init(capacity: Int = 16) {
        self.capacity = max(1, capacity)
    }

    /// Hands `chunk` on; suspends while the pipe is full. False when the consumer failed the
    /// pipe (the chunk was not taken).
    func send(_ chunk: ByteBuffer) async -> Bool {
        enum Step {
            case done(Bool)
            case wake(CheckedContinuation<ByteBuffer?, Never>)
            case wait
        }
        let step = state.withLock { s -> Step in
            if s.failed || s.finished { return .done(false) }
            if let consumer = s.consumer {
                s.consumer = nil
                return .wake(consumer)
            }
            s.buffer.append(chunk)
            return s.buffer.count < capacity ? .done(true) : .wait
        }
        switch step {
        case .done(let taken):
            return taken
        case .wake(let consumer):
            consumer.resume(returning: chunk)
            return true
        case .wait:
            // The chunk is in the buffer; wait for room (true) or a failure (false: dropped).
            return await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { s -> Bool? in
                    if s.failed { return false }
                    if s.buffer.count < capacity { return true }
                    s.producer = continuation
                    return nil
                }
                if let resumeNow { continuation.resume(returning: resumeNow) }
            }
        }
    }

    /// The producer has no more chunks: the consumer gets the rest, then nil.
    func finish() {
        let consumer = state.withLock { s -> CheckedContinuation<ByteBuffer?, Never>? in
            s.finished = true
            defer { s.consumer = nil }
            return s.buffer.isEmpty ? s.consumer : nil
        }
        consumer?.resume(returning: nil)
    }

    /// The next chunk, in order; nil once the producer finished and the pipe is empty, or once
    /// it failed.
    func next() async -> ByteBuffer? {
        enum Step {
            case chunk(ByteBuffer?, CheckedContinuation<Bool, Never>?)
            case wait
        }
        let step = state.withLock { s -> Step in
            if s.failed { return .chunk(nil, nil) }
            if !s.buffer.isEmpty {
                let chunk = s.buffer.removeFirst()
                let producer = s.buffer.count < capacity ? s.producer : nil
                if producer != nil { s.producer = nil }
                return .chunk(chunk, producer)
            }
            return s.finished ? .chunk(nil, nil) : .wait
        }
        switch step {
        case .chunk(let chunk, let producer):
            producer?.resume(returning: true)
            return chunk
        case .wait:
            return await withCheckedContinuation { continuation in
                let now = state.withLock { s -> ByteBuffer?? in
                    if s.failed { return .some(nil) }
                    if !s.buffer.isEmpty { return .some(s.buffer.removeFirst()) }
                    if s.finished { return .some(nil) }
                    s.consumer = continuation
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        }
    }

    /// The consumer gives up: whatever waits is dropped, the producer is told.
    func fail() {
        let (consumer, producer) = state.withLock { s in
            s.failed = true
            s.buffer = []
            defer {
                s.consumer = nil
                s.producer = nil
            }
            return (s.consumer, s.producer)
        }
        consumer?.resume(returning: nil)
        producer?.resume(returning: false)
    }
}
