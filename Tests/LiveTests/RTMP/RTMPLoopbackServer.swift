import Foundation
import Testing

@testable import Live

/// A one-connection blocking RTMP server on 127.0.0.1 for tests that publish with the real
/// ffmpeg: every byte goes through an `RTMPPublishSession` (the node's NIO shell is not needed
/// to judge the protocol core), and every byte the publisher sent is kept, so a run can be
/// replayed or mutated (the fuzz corpus).
final class RTMPLoopbackServer {
    static let ffmpeg = "/usr/bin/ffmpeg"

    let listener: Int32
    let port: UInt16

    /// What one publisher did: the media, the directives other than `send` and `media`, every
    /// byte it sent (handshake included), and where each read ended in those bytes.
    struct Served {
        var media: [UInt8] = []
        var events: [RTMPDirective] = []
        var received: [UInt8] = []
        var reads: [Int] = []
    }

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) }
        }
        var length = size
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        try #require(bound == 0 && listen(fd, 1) == 0)
    }

    deinit { close(listener) }

    /// Serves one publisher until it closes (or 30 s without a byte).
    func serve(acceptKey: String) -> Served {
        var served = Served()
        let connection = accept(listener, nil, nil)
        guard connection >= 0 else { return served }
        defer { close(connection) }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var session = RTMPPublishSession(noise: (0..<1528).map { UInt8(truncatingIfNeeded: $0 * 7) })
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(connection, &buffer, buffer.count, 0)
            guard n > 0 else { return served }
            served.received += buffer[0..<n]
            served.reads.append(served.received.count)
            var pending = session.receive(buffer[0..<n])
            while !pending.isEmpty {
                let directive = pending.removeFirst()
                switch directive {
                case .send(let bytes):
                    _ = bytes.withUnsafeBytes { send(connection, $0.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }
                case .media(let bytes): served.media += bytes
                case .publish(_, let key):
                    served.events.append(directive)
                    pending += key == acceptKey ? session.accept() : session.refuse("bad stream key")
                case .close:
                    served.events.append(directive)
                    return served
                case .unpublish: served.events.append(directive)
                }
            }
        }
    }

    /// Starts `ffmpeg` publishing lavfi test sources to this server as `live/<key>`;
    /// `options` go before the output (codecs, `-an`, `-rtmp_flush_interval`, ...).
    func publish(key: String, seconds: Int, size: String, options: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.ffmpeg)
        process.arguments =
            [
                "-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc2=size=\(size):rate=25", "-f", "lavfi", "-i",
                "sine=sample_rate=44100", "-t", "\(seconds)",
            ] + options + ["-f", "flv", "rtmp://127.0.0.1:\(port)/live/\(key)"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }
}
