import NIOCore
import NIOHTTP1

/// How a handed-off response body reaches its connection.
///
/// An HTTP/1.x viewer's bytes skip the HTTP handlers: they are written from the response
/// encoder's context, below it, already framed, so a delivery is one write and one flush per
/// viewer instead of a walk through six handlers with three writes (chunk header, data, CRLF)
/// and three promises. The chunk framing is done once per batch for all the viewers of a loop
/// (`ViewerBytes`). The encoder still writes the head before and the terminator after (it
/// framed the head as chunked, and the writes share the event loop, so the order holds); a TLS
/// handler sits below the encoder and encrypts these bytes like any other.
public enum ViewerFraming: Sendable, Equatable {
    /// Body parts through the channel's pipeline: an HTTP/2 stream, whose codec frames them.
    case http2Stream
    /// An HTTP/1.1 response with chunked transfer coding (`chunked`), or an HTTP/1.0 one whose
    /// body ends with the connection.
    case http1(chunked: Bool)

    /// What the encoder chooses for a body without Content-Length in `version`: chunked from
    /// HTTP/1.1 on (`correctlyFrameTransportHeaders` in NIOHTTP1).
    static func http1(version: HTTPVersion) -> ViewerFraming {
        .http1(chunked: version.major > 1 || (version.major == 1 && version.minor >= 1))
    }
}

/// One buffer as the fan-out hands it to its viewers: the bytes, and the same bytes as one
/// HTTP/1.1 chunk, framed once for every chunked viewer of a loop.
struct ViewerBytes: Sendable {
    let plain: ByteBuffer
    let chunk: ByteBuffer

    init(_ plain: ByteBuffer) {
        self.plain = plain
        self.chunk = Self.chunk(plain)
    }

    /// `plain` framed as one chunk: hex size, CRLF, data, CRLF. Empty stays empty: a chunk of
    /// size 0 would end the body.
    static func chunk(_ plain: ByteBuffer) -> ByteBuffer {
        guard plain.readableBytes > 0 else { return plain }
        var out = ByteBufferAllocator().buffer(capacity: plain.readableBytes + 20)
        out.writeSizeLine(plain.readableBytes)
        out.writeImmutableBuffer(plain)
        out.writeStaticString("\r\n")
        return out
    }
}

extension ByteBuffer {
    /// Writes a chunk's size line: the size in hex, then CRLF.
    mutating func writeSizeLine(_ size: Int) {
        writeString(String(size, radix: 16))
        writeStaticString("\r\n")
    }
}
