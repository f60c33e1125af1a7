import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real `qunbo node` process started by a test, with its log captured to a file.
final class NodeProcess: @unchecked Sendable {
    let process = Process()
    let port: Int
    let logURL: URL
    let id: String

    /// The `qunbo` binary built beside the test bundle.
    static var binary: String {
        let exe =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("qunbo").path
    }

    /// Starts `qunbo node --listen 127.0.0.1:PORT extra...`.
    init(port: Int = freePort(), id: String? = nil, extra: [String] = [], environment: [String: String] = [:]) throws {
        self.port = port
        self.id = id ?? "node-\(port)"
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qunbo-test-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        logURL = dir.appendingPathComponent("node.log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments =
            [
                "node", "--listen", "127.0.0.1:\(port)", "--id", self.id, "--data-dir",
                dir.appendingPathComponent("data").path,
            ]
            + extra
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        try spawnLock.withLock {
            let log = try FileHandle(forWritingTo: logURL)
            process.standardOutput = log
            process.standardError = log
            process.standardInput = FileHandle.nullDevice
            try process.run()
            try? log.close()
        }
    }

    var url: String { "http://127.0.0.1:\(port)" }
    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }
    var isRunning: Bool { process.isRunning }

    /// Waits until `/healthz` answers 200.
    func waitHealthy(timeout: Double = 15) async throws {
        do {
            try await waitUntil("node \(id) to answer /healthz", timeout: timeout) {
                guard self.process.isRunning else { throw NodeExited(log: self.log) }
                return (try? httpGet(port: port, path: "/healthz").status) == 200
            }
        } catch let error as WaitTimeout {
            throw NodeExited(log: "\(error)\n" + log)
        }
    }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits for the process to exit and returns its status.
    func waitExit(timeout: Double = 20) async throws -> Int32 {
        try await waitUntil("node \(id) to exit", timeout: timeout) { !self.process.isRunning }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Kills the process for good (test clean-up).
    func stop() {
        if process.isRunning {
            signal(SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

struct NodeExited: Error, CustomStringConvertible {
    var log: String
    var description: String { "node is not running; its log:\n\(log)" }
}

/// A minimal HTTP/1.1 GET over a raw socket, for polling without spawning curl.
func httpGet(
    port: Int,
    path: String,
    headers: [String: String] = [:]
) throws -> (status: Int, headers: String, body: String) {
    let socket = try RawSocket(port: port)
    let extra = headers.map { "\($0.key): \($0.value)\r\n" }.joined()
    socket.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(extra)Connection: close\r\n\r\n")
    let (bytes, _) = socket.readUntilClosed(timeout: 5)
    let text = String(decoding: bytes, as: UTF8.self)
    guard let headEnd = text.range(of: "\r\n\r\n") else { throw POSIXError(.EBADMSG) }
    let head = String(text[..<headEnd.lowerBound])
    let statusLine = head.split(separator: "\r\n").first ?? ""
    let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "") ?? 0
    return (status, head, String(text[headEnd.upperBound...]))
}
