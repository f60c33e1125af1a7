import Foundation
import NIOCore
import NIOHTTP1

/// A response: head plus either a complete body or a body written as it is produced
/// (event streams, live media).
public struct Response: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: Body
    /// The route pattern that produced it, the `route` label of request metrics.
    public var route: String = "unmatched"

    public enum Body: Sendable {
        case empty
        case buffer(ByteBuffer)
        /// Produced by the closure; the response ends when it returns. A throw cuts the stream.
        case stream(@Sendable (BodyWriter) async throws -> Void)
        /// Written by something that feeds the channel itself (a `DirectViewer`): the closure sets
        /// it up and returns a future that completes when the body is over; the response ends
        /// then, and the connection (or HTTP/2 stream) is closed. No task waits meanwhile: an
        /// idle viewer costs its channel, not a parked task that keeps every async frame its
        /// request ever used (about two thirds of an idle viewer's memory).
        case handOff(@Sendable (BodyWriter) async throws -> EventLoopFuture<Void>)
    }

    public init(status: HTTPResponseStatus = .ok, headers: HTTPHeaders = HTTPHeaders(), body: Body = .empty) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response of `value`, encoded with sorted keys and RFC 3339 dates.
    public static func json<T: Encodable>(_ value: T, status: HTTPResponseStatus = .ok) -> Response {
        let data: Data
        do {
            data = try JSONCoding.encoder.encode(value)
        } catch {
            return APIError.internalError.response()
        }
        var response = Response(status: status, body: .buffer(ByteBuffer(bytes: data)))
        response.headers.add(name: "Content-Type", value: "application/json")
        return response
    }

    /// A JSON response whose body the caller rendered (a fixed shape on a hot path).
    static func rawJSON(_ json: String, status: HTTPResponseStatus = .ok) -> Response {
        var response = Response(status: status, body: .buffer(ByteBuffer(string: json)))
        response.headers.add(name: "Content-Type", value: "application/json")
        return response
    }

    /// A plain-text response.
    public static func text(
        _ text: String,
        status: HTTPResponseStatus = .ok,
        contentType: String = "text/plain; charset=utf-8"
    )
        -> Response
    {
        var response = Response(status: status, body: .buffer(ByteBuffer(string: text)))
        response.headers.add(name: "Content-Type", value: contentType)
        return response
    }
}

/// Writes a streamed response body; awaiting `write` applies the connection's back-pressure
/// (it returns once the bytes are written to the socket or queued behind others).
public struct BodyWriter: Sendable {
    let channel: any Channel
    /// How the body is framed on the wire (what a handed-off writer needs to write below the
    /// HTTP/1.x encoder).
    let framing: ViewerFraming

    /// Runs `body` once the client's connection (or HTTP/2 stream) is gone, so a producer that
    /// waits for data can stop waiting instead of noticing only at its next write.
    public func onClose(_ body: @escaping @Sendable () -> Void) {
        channel.closeFuture.whenComplete { _ in body() }
    }

    public func write(_ buffer: ByteBuffer) async throws {
        try await channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(buffer))).get()
    }

    /// Writes several buffers with one flush: a viewer that fell behind catches up in one go.
    public func write(contentsOf buffers: [ByteBuffer]) async throws {
        guard let last = buffers.last else { return }
        for buffer in buffers.dropLast() {
            channel.write(HTTPServerResponsePart.body(.byteBuffer(buffer)), promise: nil)
        }
        try await write(last)
    }
}

/// The project's JSON settings in one place.
public enum JSONCoding {
    public static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return e
    }
    public static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }
}
