import Foundation
import Testing

@testable import Live

/// The RTMP publishing conversation against the real publisher: ffmpeg `-f flv rtmp://` talks to
/// `RTMPPublishSession` over a loopback socket (`RTMPLoopbackServer`; the node's NIO shell comes
/// later, the protocol core is what ffmpeg judges here), and the media that comes out is read by
/// ffprobe.
@Suite("RTMP: publishing with ffmpeg", .serialized)
struct RTMPPublishSessionTests {
    static let ffmpeg = "/usr/bin/ffmpeg"
    static let ffprobe = "/usr/bin/ffprobe"

    private func publish(to server: RTMPLoopbackServer, key: String, seconds: Int) throws -> Process {
        try server.publish(
            key: key,
            seconds: seconds,
            size: "320x240",
            options: ["-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-c:a", "aac"]
        )
    }

    @Test("ffmpeg publishes with the right key: every frame arrives as TS that ffprobe reads; it ends with unpublish")
    func ffmpegPublishes() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.ffmpeg) else {
            Issue.record("ffmpeg must be installed (Tests/run installs it); the RTMP test did not run")
            return
        }
        let server = try RTMPLoopbackServer()
        let ffmpeg = try publish(to: server, key: "sk_good", seconds: 3)
        let served = server.serve(acceptKey: "sk_good")
        ffmpeg.waitUntilExit()
        #expect(ffmpeg.terminationStatus == 0)
        #expect(served.events.first == .publish(app: "live", streamKey: "sk_good"))
        #expect(served.events.contains(.unpublish))

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("qunbo-rtmp-\(UUID().uuidString).ts")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(served.media).write(to: file)
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
        let server = try RTMPLoopbackServer()
        let ffmpeg = try publish(to: server, key: "sk_bad", seconds: 30)
        let served = server.serve(acceptKey: "sk_good")
        ffmpeg.waitUntilExit()
        #expect(ffmpeg.terminationStatus != 0)
        #expect(served.media.isEmpty)
        #expect(served.events == [.publish(app: "live", streamKey: "sk_bad"), .close(nil)])
    }
}
