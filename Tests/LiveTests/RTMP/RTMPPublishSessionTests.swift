import Foundation
import Testing

@testable import Live

/// The RTMP publishing conversation against the real publisher: ffmpeg `-f flv rtmp://` talks to
/// `RTMPPublishSession` over a loopback socket served by this test (the node's NIO shell comes
/// later; the protocol core is what ffmpeg judges here), and the media that comes out is read by
/// ffprobe.
@Suite("RTMP: publishing with ffmpeg", .serialized)
struct RTMPPublishSessionTests {
    static let ffmpeg = "/usr/bin/ffmpeg"
    static let ffprobe = "/usr/bin/ffprobe"

    /// A one-connection blocking server on 127.0.0.1: every byte goes through the session.
    private final class LoopbackServer {
        let listener: Int32
        let port: UInt16

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

        /// Serves one publisher until it closes (or 30 s without a byte). Returns the media and
        /// the directives other than `send` and `media`.
        func serve(acceptKey: String) -> (media: [UInt8], events: [RTMPDirective]) {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return ([], []) }
            defer { close(connection) }
            var timeout = timeval(tv_sec: 30, tv_usec: 0)
            setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var session = RTMPPublishSession(noise: (0..<1528).map { UInt8(truncatingIfNeeded: $0 * 7) })
            var media: [UInt8] = []
            var events: [RTMPDirective] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = recv(connection, &buffer, buffer.count, 0)
                guard n > 0 else { return (media, events) }
                var pending = session.receive(buffer[0..<n])
                while !pending.isEmpty {
                    let directive = pending.removeFirst()
                    switch directive {
                    case .send(let bytes):
                        _ = bytes.withUnsafeBytes { send(connection, $0.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }
                    case .media(let bytes): media += bytes
                    case .publish(_, let key):
                        events.append(directive)
                        pending += key == acceptKey ? session.accept() : session.refuse("bad stream key")
                    case .close:
                        events.append(directive)
                        return (media, events)
                    case .unpublish: events.append(directive)
                    }
                }
            }
        }
    }

    private func publish(to port: UInt16, key: String, seconds: Int) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.ffmpeg)
        process.arguments = [
            "-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i",
            "sine=sample_rate=44100", "-t", "\(seconds)", "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-c:a",
            "aac", "-f", "flv", "rtmp://127.0.0.1:\(port)/live/\(key)",
        ]
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    @Test("ffmpeg publishes with the right key: every frame arrives as TS that ffprobe reads; it ends with unpublish")
    func ffmpegPublishes() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.ffmpeg) else {
            Issue.record("ffmpeg must be installed (Tests/run installs it); the RTMP test did not run")
            return
        }
        let server = try LoopbackServer()
        let ffmpeg = try publish(to: server.port, key: "sk_good", seconds: 3)
        let (media, events) = server.serve(acceptKey: "sk_good")
        ffmpeg.waitUntilExit()
        #expect(ffmpeg.terminationStatus == 0)
        #expect(events.first == .publish(app: "live", streamKey: "sk_good"))
        #expect(events.contains(.unpublish))

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("qunbo-rtmp-\(UUID().uuidString).ts")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(media).write(to: file)
        let (lines, stderr) = try probeFrames(file)
        #expect(stderr.isEmpty, "ffprobe complained: \(stderr)")
        #expect(lines.first == "h264,75", "3 s at 25 fps: \(lines)")
        #expect(lines.dropFirst().first?.hasPrefix("aac,") == true)
    }

    @Test("a wrong stream key is refused: ffmpeg fails, no media is taken")
    func wrongKey() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.ffmpeg) else {
            Issue.record("ffmpeg must be installed (Tests/run installs it); the RTMP test did not run")
            return
        }
        let server = try LoopbackServer()
        let ffmpeg = try publish(to: server.port, key: "sk_bad", seconds: 30)
        let (media, events) = server.serve(acceptKey: "sk_good")
        ffmpeg.waitUntilExit()
        #expect(ffmpeg.terminationStatus != 0)
        #expect(media.isEmpty)
        #expect(events == [.publish(app: "live", streamKey: "sk_bad"), .close(nil)])
    }
}
