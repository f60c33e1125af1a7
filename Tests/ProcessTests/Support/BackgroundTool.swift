import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An external program left running while the test goes on (a streaming viewer, a broadcaster),
/// with its output captured to files that can be read at any moment.
final class BackgroundTool: @unchecked Sendable {
    let name: String
    private let process = Process()
    private let outURL: URL
    private let errURL: URL

    /// Starts `name args`.
    init(_ name: String, _ args: [String]) throws {
        self.name = name
        process.executableURL = URL(fileURLWithPath: name.hasPrefix("/") ? name : try Tools.require(name))
        process.arguments = args
        let dir = FileManager.default.temporaryDirectory
        outURL = dir.appendingPathComponent("bg-\(UUID()).out")
        errURL = dir.appendingPathComponent("bg-\(UUID()).err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        try spawnLock.withLock {
            let out = try FileHandle(forWritingTo: outURL)
            let err = try FileHandle(forWritingTo: errURL)
            process.standardOutput = out
            process.standardError = err
            process.standardInput = FileHandle.nullDevice
            try process.run()
            try? out.close()
            try? err.close()
        }
    }

    /// What the program has written to stdout so far.
    var output: String { (try? String(contentsOf: outURL, encoding: .utf8)) ?? "" }
    /// What the program has written to stderr so far.
    var errors: String { (try? String(contentsOf: errURL, encoding: .utf8)) ?? "" }
    var isRunning: Bool { process.isRunning }

    /// Waits for the program to end by itself; returns its exit status.
    func waitExit(timeout: Double) async throws -> Int32 {
        try await waitUntil("\(name) to exit", timeout: timeout) { !self.process.isRunning }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Ends the program (SIGKILL) and reaps it.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: outURL)
        try? FileManager.default.removeItem(at: errURL)
    }
}
