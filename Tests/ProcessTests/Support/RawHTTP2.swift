import Foundation

/// Hand-made HTTP/2 frames for clients no library would be: stream floods past SETTINGS,
/// headers trickled a byte at a time, PING-only connections. Header blocks use HPACK literals
/// without indexing or Huffman (RFC 7541 §6.2.2), which every decoder must accept.
enum RawHTTP2 {
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    enum FrameType: UInt8 {
        case data = 0, headers = 1, rstStream = 3, settings = 4, ping = 6, goAway = 7, windowUpdate = 8
        case continuation = 9
    }

    struct Frame: CustomStringConvertible {
        var type: UInt8
        var flags: UInt8
        var stream: UInt32
        var payload: [UInt8]

        /// GOAWAY and RST_STREAM: their error code.
        var errorCode: UInt32? {
            switch type {
            case FrameType.goAway.rawValue where payload.count >= 8: return be32(payload, 4)
            case FrameType.rstStream.rawValue where payload.count >= 4: return be32(payload, 0)
            default: return nil
            }
        }

        var endsStream: Bool { flags & 0x1 != 0 }

        var description: String { "frame(type \(type), flags \(flags), stream \(stream), \(payload.count) B)" }
    }

    static func be32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }

    static func frame(_ type: FrameType, flags: UInt8 = 0, stream: UInt32 = 0, _ payload: [UInt8] = []) -> [UInt8] {
        let n = payload.count
        return [UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF), type.rawValue, flags]
            + [UInt8(stream >> 24 & 0x7F), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)]
            + payload
    }

    /// The client's opening: preface and an empty SETTINGS.
    static var opening: [UInt8] { preface + frame(.settings) }

    /// An HPACK integer with an `prefixBits`-bit prefix (RFC 7541 §5.1).
    static func integer(_ value: Int, prefixBits: Int, first: UInt8 = 0) -> [UInt8] {
        let max = (1 << prefixBits) - 1
        if value < max { return [first | UInt8(value)] }
        var out: [UInt8] = [first | UInt8(max)]
        var rest = value - max
        while rest >= 128 {
            out.append(UInt8(rest % 128 + 128))
            rest /= 128
        }
        out.append(UInt8(rest))
        return out
    }

    /// A header block of literal fields with literal names, not indexed.
    static func headerBlock(_ fields: [(String, String)]) -> [UInt8] {
        var out: [UInt8] = []
        for (name, value) in fields {
            out.append(0x00)
            out += integer(name.utf8.count, prefixBits: 7) + Array(name.utf8)
            out += integer(value.utf8.count, prefixBits: 7) + Array(value.utf8)
        }
        return out
    }

    /// A request's pseudo-headers and `extra` headers.
    static func request(_ method: String, _ path: String, _ extra: [(String, String)] = []) -> [UInt8] {
        headerBlock([(":method", method), (":scheme", "http"), (":path", path), (":authority", "localhost")] + extra)
    }

    /// Splits a byte stream into frames; leftover bytes of an incomplete frame stay in `buffer`.
    static func parse(_ buffer: inout [UInt8]) -> [Frame] {
        var frames: [Frame] = []
        while buffer.count >= 9 {
            let length = Int(buffer[0]) << 16 | Int(buffer[1]) << 8 | Int(buffer[2])
            guard buffer.count >= 9 + length else { break }
            frames.append(
                Frame(
                    type: buffer[3],
                    flags: buffer[4],
                    stream: be32(buffer, 5) & 0x7FFF_FFFF,
                    payload: Array(buffer[9..<(9 + length)])
                )
            )
            buffer.removeFirst(9 + length)
        }
        return frames
    }
}

extension RawSocket {
    /// Opens an HTTP/2 connection as a client must for the server's SETTINGS to apply: sends
    /// the preface and SETTINGS, waits for the server's SETTINGS and acknowledges them (a server
    /// enforces its limits, such as concurrent streams, once they are acknowledged). Returns
    /// whether the server's SETTINGS came.
    @discardableResult
    func http2Handshake(timeout: Double = 5) -> Bool {
        send(RawHTTP2.opening)
        let (frames, _) = readFrames(timeout: timeout) { frames in
            frames.contains { $0.type == RawHTTP2.FrameType.settings.rawValue && $0.flags & 0x1 == 0 }
        }
        guard frames.contains(where: { $0.type == RawHTTP2.FrameType.settings.rawValue && $0.flags & 0x1 == 0 }) else {
            return false
        }
        send(RawHTTP2.frame(.settings, flags: 0x1))
        return true
    }

    /// Reads frames until `done` holds for what has arrived, the peer closes, or `timeout`
    /// passes; returns the frames and whether the peer closed.
    func readFrames(timeout: Double, until done: ([RawHTTP2.Frame]) -> Bool = { _ in false }) -> (
        frames: [RawHTTP2.Frame], closed: Bool
    ) {
        var pending: [UInt8] = []
        var frames: [RawHTTP2.Frame] = []
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard let bytes = readSome(timeout: min(0.1, max(0.001, deadline.timeIntervalSinceNow))) else {
                return (frames, true)
            }
            pending += bytes
            frames += RawHTTP2.parse(&pending)
            if done(frames) { return (frames, false) }
        }
        return (frames, false)
    }
}
