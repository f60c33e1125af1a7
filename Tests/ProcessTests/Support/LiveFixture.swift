import Foundation

/// A node with an auth secret plus tokens for a cast of users in group `g1`:
/// ann (owner, the host), bob and cat (members), dan (admin), eve (member of another group).
final class LiveFixture: @unchecked Sendable {
    static let secret = "process-test-secret-0123456789-abcdefghij"
    let node: NodeProcess
    private(set) var tokens: [String: String] = [:]
    let group = "g1"

    init(extra: [String] = [], port: Int = freePort(), dataDir: String? = nil) throws {
        var args = ["--auth-secret", Self.secret] + extra
        if let dataDir { args += ["--data-dir", dataDir] }
        node = try NodeProcess(port: port, extra: args)
    }

    func start() async throws {
        try await node.waitHealthy()
        let cast: [(String, [String])] = [
            ("ann", ["--group", "g1:owner", "--name", "Ann"]), ("bob", ["--group", "g1"]), ("cat", ["--group", "g1"]),
            ("dan", ["--group", "g1:admin"]), ("eve", ["--group", "other"]),
        ]
        for (user, extra) in cast {
            let minted = try await Tools.run(
                NodeProcess.binary,
                ["token", "--secret", Self.secret, "--user", user] + extra
            )
            tokens[user] = minted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    var base: String { "\(node.url)/v1/groups/\(group)" }

    /// `curl` a route as `user` (nil = no token); returns status and body.
    func call(
        _ method: String,
        _ path: String,
        as user: String?,
        json: String? = nil,
        headers: [String] = [],
        bodyFile: String? = nil,
        http2: Bool = false
    ) async throws -> (status: Int, body: String) {
        try await Curl.call(
            method,
            path.hasPrefix("http") ? path : base + path,
            token: user.map { tokens[$0] ?? $0 },
            json: json,
            headers: headers,
            bodyFile: bodyFile,
            http2: http2
        )
    }

    /// Parses a JSON object body.
    static func object(_ body: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }

    /// Reads the event stream as `user` for `seconds` (curl exits on its timeout), optionally
    /// resuming after `lastEventID`; returns the raw SSE text.
    func readEvents(as user: String, seconds: Double, lastEventID: UInt64? = nil) async throws -> String {
        var args = ["-sN", "--max-time", String(seconds), "-H", "Authorization: Bearer \(tokens[user]!)"]
        if let lastEventID { args += ["-H", "Last-Event-ID: \(lastEventID)"] }
        args.append(base + "/live/events")
        return try await Tools.run("curl", args, timeout: seconds + 10).stdout
    }

    /// The `id:` values of an SSE text, in order.
    static func eventIDs(_ sse: String) -> [UInt64] {
        sse.split(separator: "\n").compactMap { $0.hasPrefix("id: ") ? UInt64($0.dropFirst(4)) : nil }
    }

    func stop() { node.stop() }
}
