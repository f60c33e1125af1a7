import NIOCore
import NIOHTTP1

/// The body of the request being served, read straight from the connection as it arrives, so
/// that a continuous ingest stream is never buffered whole.
///
/// It wraps the connection's inbound iterator, which is not `Sendable`: a `RequestBody` must be
/// read only from the task that serves its request (the router's handler runs in that task).
/// That is the one reason for `@unchecked Sendable`.
public final class RequestBody: @unchecked Sendable, AsyncSequence {
    public typealias Element = ByteBuffer

    private var iterator: NIOAsyncChannelInboundStream<HTTPServerRequestPart>.AsyncIterator?
    /// A body already read into memory (`buffered(_:)`), handed out as one chunk.
    private var bufferedChunk: ByteBuffer?
    /// True once `.end` of the current request was read.
    private(set) var ended = true
    /// A request head read while draining: the next pipelined request.
    private var pendingHead: HTTPRequestHead?

    init(iterator: NIOAsyncChannelInboundStream<HTTPServerRequestPart>.AsyncIterator) {
        self.iterator = iterator
    }

    /// A body made by a closure (`produced(by:)`), pulled as the route reads.
    private var producer: (() async throws -> ByteBuffer?)?

    private init(buffer: ByteBuffer) {
        self.iterator = nil
        self.bufferedChunk = buffer
        self.ended = false
    }

    private init(producer: @escaping () async throws -> ByteBuffer?) {
        self.iterator = nil
        self.producer = producer
        self.ended = false
    }

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
        guard iterator != nil else {
            defer { bufferedChunk = nil }
            ended = true
            return bufferedChunk
        }
        while !ended {
            guard let part = try await iterator!.next() else {
                ended = true
                throw ConnectionClosed()
            }
            switch part {
            case .body(let buffer): return buffer
            case .end: ended = true
            case .head(let head):
                // Cannot happen with a well-behaved codec; treat as the next request.
                pendingHead = head
                ended = true
            }
        }
        return nil
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

    /// Reads the next request's head; nil when the client closed the connection.
    func nextHead() async throws -> HTTPRequestHead? {
        if let head = pendingHead {
            pendingHead = nil
            ended = false
            return head
        }
        while let part = try await iterator?.next() {
            if case .head(let head) = part {
                ended = false
                return head
            }
        }
        return nil
    }

    /// Discards what the handler left unread so the connection can serve the next request;
    /// returns false (close the connection) when more than `limit` bytes remain.
    func drain(limit: Int) async throws -> Bool {
        var discarded = 0
        while let chunk = try await next() {
            discarded += chunk.readableBytes
            if discarded > limit { return false }
        }
        return true
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let body: RequestBody
        public mutating func next() async throws -> ByteBuffer? { try await body.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(body: self) }
}

/// The client went away in the middle of a request.
struct ConnectionClosed: Error {}
