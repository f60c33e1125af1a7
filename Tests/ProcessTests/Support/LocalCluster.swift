import Foundation

/// A local cluster started with the operator's own scripts (`cluster/up`, `cluster/kill`,
/// `cluster/restart`, `cluster/down`), so the tests exercise exactly what operators run.
final class LocalCluster: @unchecked Sendable {
    let size: Int
    let basePort: Int
    let dir: URL
    /// Node flags after `--` on `cluster/up`, e.g. `["--replicas", "3"]`.
    let nodeFlags: [String]
    /// Started with `cluster/up --tls`: https with a throwaway CA (`caFile`), mutual TLS between nodes.
    let tls: Bool
    private(set) var adminToken = ""

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// First RTMP port (`cluster/up --rtmp-base-port`), 0 when the nodes take no RTMP.
    let rtmpBasePort: Int

    init(size: Int, nodeFlags: [String] = [], tls: Bool = false, rtmp: Bool = false) {
        self.size = size
        self.nodeFlags = nodeFlags
        self.tls = tls
        basePort = Self.freePortRange(count: size)
        rtmpBasePort = rtmp ? Self.freePortRange(count: size) : 0
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("qunbo-cluster-\(UUID())")
    }

    var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["QUNBO_BIN"] = NodeProcess.binary
        env["QUNBO_CLUSTER_DIR"] = dir.path
        return env
    }

    func ids() -> [String] { (1...size).map { "n\($0)" } }
    func port(of id: String) -> Int { basePort + Int(id.dropFirst())! - 1 }
    /// The RTMP URL of node `id` (`rtmp: true` clusters).
    func rtmpURL(of id: String) -> String { "rtmp://127.0.0.1:\(rtmpBasePort + Int(id.dropFirst())! - 1)/live" }
    func url(of id: String) -> String { "\(tls ? "https" : "http")://127.0.0.1:\(port(of: id))" }
    /// The throwaway CA of a TLS cluster (`cluster/up --tls`).
    var caFile: String { dir.appendingPathComponent("tls/ca.pem").path }

    /// A value of the cluster's `env` file (`QUNBO_AUTH_SECRET`, `QUNBO_CLUSTER_SECRET`).
    func secret(_ name: String) throws -> String {
        let env = try String(contentsOf: dir.appendingPathComponent("env"), encoding: .utf8)
        let line = env.split(separator: "\n").first { $0.hasPrefix("\(name)=") }
        return line.map { String($0.dropFirst(name.count + 1)) } ?? ""
    }

    func script(_ name: String, _ args: [String], timeout: Double = 60) async throws -> ToolResult {
        let result = try await Tools.run(
            Self.root.appendingPathComponent("cluster/\(name)").path,
            args,
            timeout: timeout,
            environment: environment
        )
        if result.status != 0 { throw ScriptFailed(name: name, result: result, logs: logs()) }
        return result
    }

    func up() async throws {
        let flags = nodeFlags.isEmpty ? [] : ["--"] + nodeFlags
        _ = try await script(
            "up",
            [String(size), "--base-port", String(basePort), "--rtmp-base-port", String(rtmpBasePort), "--no-demo"]
                + (tls ? ["--tls"] : []) + flags
        )
        // Every curl the tests start (clients, viewers) trusts the cluster's CA. Process tests run
        // one at a time (--no-parallel), so one cluster's CA at a time.
        if tls { setenv("CURL_CA_BUNDLE", caFile, 1) }
        // Operator tokens are signed with the cluster secret.
        let minted = try await Tools.run(
            NodeProcess.binary,
            [
                "token", "--cluster-secret", try secret("QUNBO_CLUSTER_SECRET"), "--user", "test-operator", "--admin",
                "--ttl", "2h",
            ]
        )
        adminToken = minted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Starts a cluster of `size`, runs `body`, and always stops it before returning, so no
    /// teardown runs concurrently with the next test's processes.
    static func with(
        size: Int,
        nodeFlags: [String] = [],
        tls: Bool = false,
        rtmp: Bool = false,
        _ body: (LocalCluster) async throws -> Void
    ) async throws {
        let cluster = LocalCluster(size: size, nodeFlags: nodeFlags, tls: tls, rtmp: rtmp)
        do {
            try await cluster.up()
            try await body(cluster)
        } catch {
            await cluster.down()
            throw error
        }
        await cluster.down()
    }

    func kill(_ id: String, signal: String = "KILL") async throws { _ = try await script("kill", [id, signal]) }
    func restart(_ id: String) async throws { _ = try await script("restart", [id]) }
    func down() async {
        _ = try? await script("down", ["--wipe", "--logs"])
        if tls { unsetenv("CURL_CA_BUNDLE") }
    }

    /// GET an admin route on node `id`, as JSON.
    func admin(_ id: String, _ path: String) throws -> Any {
        let answer = try adminGet(id, path)
        guard answer.status == 200 else { throw AdminFailed(status: answer.status, body: answer.body) }
        return try JSONSerialization.jsonObject(with: Data(answer.body.utf8))
    }

    /// GET `path` on node `id` with the admin token: a raw HTTP/1.1 request, or curl over TLS.
    func adminGet(_ id: String, _ path: String) throws -> (status: Int, body: String) {
        guard tls else {
            let answer = try httpGet(port: port(of: id), path: path, headers: ["Authorization": "Bearer \(adminToken)"])
            return (answer.status, answer.body)
        }
        return try syncCurl(["-H", "Authorization: Bearer \(adminToken)", url(of: id) + path])
    }

    /// `curl --cacert <the cluster's CA> args`, waited for (5 s at most), as (status, body).
    func syncCurl(_ args: [String]) throws -> (status: Int, body: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Tools.require("curl"))
        process.arguments = ["-s", "--max-time", "5", "--cacert", caFile, "-o", "-", "-w", "\n%{http_code}"] + args
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("curl-\(UUID()).out")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: out) }
        let handle = try FileHandle(forWritingTo: out)
        process.standardOutput = handle
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try? handle.close()
        let text = try String(contentsOf: out, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    /// Member id -> state as node `id` sees it.
    func memberStates(seenBy id: String) throws -> [String: String] {
        let json = try admin(id, "/admin/v1/members") as? [String: Any]
        let members = json?["members"] as? [[String: Any]] ?? []
        var out: [String: String] = [:]
        for m in members {
            if let mid = m["id"] as? String, let state = m["state"] as? String { out[mid] = state }
        }
        return out
    }

    /// The replica list of `group` as node `id` computes it.
    func replicas(of group: String, seenBy id: String) throws -> [String] {
        let json = try admin(id, "/admin/v1/ring?group=\(group)") as? [String: Any]
        return json?["replicas"] as? [String] ?? []
    }

    func logs() -> String {
        ids().map { id in
            let log = (try? String(contentsOf: dir.appendingPathComponent("\(id)/node.log"), encoding: .utf8)) ?? ""
            return "--- \(id) ---\n" + log.split(separator: "\n").suffix(15).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// `count` consecutive ports that are free now.
    static func freePortRange(count: Int) -> Int {
        var rng = SystemRandomNumberGenerator()
        while true {
            let base = Int.random(in: 20_000...55_000, using: &rng)
            if (0..<count).allSatisfy({ (try? RawSocket(port: base + $0)) == nil && canBind(base + $0) }) {
                return base
            }
        }
    }
}

struct ScriptFailed: Error, CustomStringConvertible {
    var name: String
    var result: ToolResult
    var logs: String
    var description: String { "cluster/\(name) exited \(result.status): \(result.stderr)\n\(logs)" }
}

struct AdminFailed: Error {
    var status: Int
    var body: String
}
