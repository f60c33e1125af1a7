import Foundation
import Testing

/// Requests whose body streams longer than `--idle-timeout` while bytes flow: an HTTP/2 ingest at
/// the primary and an ingest forwarded to it by another node (over the peers' HTTP/2). Both were
/// cut at the idle timeout: the HTTP/2 connection guard counted streams from events that never
/// reached it, saw none, and closed the connection mid-request.
@Suite("Uploads longer than the idle timeout", .serialized)
struct LongUploadTests {
    static let idle = ["--idle-timeout", "3s"]

    /// ffmpeg's MPEG-TS for `seconds`, piped into curl's HTTP/2 upload to `url`; curl's output.
    static func h2Ingest(_ url: String, token: String, seconds: Int) async throws -> ToolResult {
        let ffmpeg = FFmpeg.pushArguments(to: "-", seconds: Double(seconds)).dropLast(5) + ["-f", "mpegts", "-"]
        let quoted = ffmpeg.map { "'\($0)'" }.joined(separator: " ")
        return try await Tools.run(
            "bash",
            [
                "-c",
                "ffmpeg \(quoted) | curl -s --http2-prior-knowledge -T - -H 'Authorization: Bearer \(token)' "
                    + "-w '\\nstatus %{http_code}' '\(url)'",
            ],
            timeout: Double(seconds) + 30
        )
    }

    @Test("an HTTP/2 ingest of 8 s at a node with a 3 s idle timeout is taken whole")
    func h2IngestOutlivesIdleTimeout() async throws {
        let f = try LiveFixture(extra: Self.idle)
        defer { f.stop() }
        try await f.start()
        #expect(try await f.call("POST", "/live", as: "ann", json: "{}").status == 201)
        let result = try await Self.h2Ingest("\(f.base)/live/ingest", token: f.tokens["ann"]!, seconds: 8)
        #expect(
            result.stdout.hasSuffix("status 200") && result.stdout.contains(#""bytes""#),
            "\(result.stdout) \(result.stderr)"
        )
    }

    @Test("an ingest forwarded to the primary for 8 s, with a 3 s idle timeout, is taken whole")
    func forwardedIngestOutlivesIdleTimeout() async throws {
        try await LocalCluster.with(size: 3, nodeFlags: ["--replicas", "3"] + Self.idle) { cluster in
            let users = try await GroupUsers.mint(for: cluster, group: "longup", memberCount: 1)
            let answer = try await users.call(cluster, at: "n1", "POST", "/live", as: "host", json: "{}")
            try #require(answer.status == 201, "\(answer.status) \(answer.body)")
            let primary = try #require(LiveFixture.object(answer.body)["primary"] as? String)
            let entry = try #require(cluster.ids().first { $0 != primary })
            let push = try await FFmpeg.push(
                to: users.url(cluster, entry, "/live/ingest") + "?access_token=\(users.token("host"))",
                seconds: 8
            )
            #expect(push.status == 0, "forwarded through \(entry) to \(primary): \(push.stderr)")
        }
    }
}
