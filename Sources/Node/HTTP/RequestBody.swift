import NIOCore
import NIOHTTP1

/// The chunks of a request body as they arrive, with back-pressure: past its high watermark
/// the connection stops reading the socket until the route has read some (`RequestHandler`).
typealias BodyStream = NIOThrowingAsyncSequenceProducer<
    ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, BodyDemand
>

/// The body of the request being served, read straight from the connection as it arrives, so
/// that a continuous ingest stream is never buffered whole.
///
/// It wraps an async iterator, which is not `Sendable`: a `RequestBody` must be read only from
/// the task that serves its request (the router's handler runs in that task). That is the one
/// reason for `@unchecked Sendable`.
public final class RequestBody: @unchecked Sendable, AsyncSequence {
    public typealias Element = ByteBuffer

    private var iterator: BodyStream.AsyncIterator?
    /// A body already read into memory (`buffered(_:)`), handed out as one chunk.
    private var bufferedChunk: ByteBuffer?
    /// True once the end of the body was read.
    private var ended = false

    /// A body streamed from the connection.
    init(stream: BodyStream) {
        self.iterator = stream.makeAsyncIterator()
    }

    /// A body made by a closure (`produced(by:)`), pulled as the route reads.
    private var producer: (() async throws -> ByteBuffer?)?

    private init(buffer: ByteBuffer?) {
        self.iterator = nil
        self.bufferedChunk = buffer
    }

    private init(producer: @escaping () async throws -> ByteBuffer?) {
        self.iterator = nil
        self.producer = producer
    }

    /// The body of a request that has none.
    static var empty: RequestBody { RequestBody(buffer: nil) }

    /// A body produced chunk by chunk by `next` (nil at the end), read only as the route asks:
    /// the RTMP ingest turns FLV into MPEG-TS as it arrives, so a slow consumer slows the
    /// publisher's socket instead of queueing media.
    static func produced(by next: @escaping () async throws -> ByteBuffer?) -> RequestBody {
        RequestBody(producer: next)
    }

    /// A body that was already collected: lets a route read it, and then forward the same bytes
    /// to another node if this one cannot serve the request.
    public static func buffered(_ buffer: ByteBuffer) -> RequestBody { RequestBody(buffer: buffer) }

    /// The next body chunk, or nil at the end of this request's body.
    public func next() async throws -> ByteBuffer? {
        if let producer {
            guard !ended else { return nil }
            if let chunk = try await producer() { return chunk }
            ended = true
            return nil
        }
        guard iterator != nil, !ended else {
            defer { bufferedChunk = nil }
            ended = true
            return bufferedChunk
        }
        guard let chunk = try await iterator!.next() else {
            ended = true
            return nil
        }
        return chunk
    }

    /// Reads the whole body, refusing (413) one over `limit` bytes.
    public func collect(upTo limit: Int) async throws -> ByteBuffer {
        var all = ByteBuffer()
        while var chunk = try await next() {
            guard all.readableBytes + chunk.readableBytes <= limit else { throw APIError.payloadTooLarge(limit: limit) }
            all.writeBuffer(&chunk)
        }
        return all
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let body: RequestBody
        public mutating func next() async throws -> ByteBuffer? { try await body.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(body: self) }
}

/// The client went away in the middle of a request.
struct ConnectionClosed: Error {}

/// Resumes reading the connection when a streamed body's reader has caught up (called by the
/// producer from the reader's thread; the handler runs on its event loop).
struct BodyDemand: NIOAsyncSequenceProducerDelegate {
    let resume: @Sendable () -> Void

    func produceMore() { resume() }
    func didTerminate() {}
}
