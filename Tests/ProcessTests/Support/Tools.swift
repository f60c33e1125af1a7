import Foundation

/// The result of running an external program.
struct ToolResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// A required external tool is missing: the README's test command installs all of them.
struct MissingTool: Error, CustomStringConvertible {
    var name: String
    var description: String { "\(name) is not installed; run Tests/run, which installs the test tools" }
}

/// Serializes process spawning and the closing of the file handles given to children.
/// Foundation's `Process` passes descriptors by number: if another thread closes a handle (and
/// the number is reused) while a spawn is being set up, the spawn fails with EBADF.
let spawnLock = NSLock()

enum Tools {
    /// Absolute path of `name` on PATH, or nil.
    static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static func require(_ name: String) throws -> String {
        guard let path = find(name) else { throw MissingTool(name: name) }
        return path
    }

    /// Runs `name args` to completion (killed after `timeout` seconds), capturing its output.
    static func run(
        _ name: String,
        _ args: [String],
        timeout: Double = 30,
        environment: [String: String]? = nil
    )
        async throws -> ToolResult
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: name.hasPrefix("/") ? name : try require(name))
        process.arguments = args
        if let environment { process.environment = environment }
        let dir = FileManager.default.temporaryDirectory
        let outURL = dir.appendingPathComponent("tool-\(UUID()).out")
        let errURL = dir.appendingPathComponent("tool-\(UUID()).err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let (out, err) = try spawnLock.withLock { () throws -> (FileHandle, FileHandle) in
            let out = try FileHandle(forWritingTo: outURL)
            let err = try FileHandle(forWritingTo: errURL)
            process.standardOutput = out
            process.standardError = err
            process.standardInput = FileHandle.nullDevice
            try process.run()
            return (out, err)
        }
        defer {
            spawnLock.withLock {
                try? out.close()
                try? err.close()
            }
        }
        do {
            try await waitUntil("\(name) to exit", timeout: timeout) { !process.isRunning }
        } catch {
            process.terminate()
            throw error
        }
        process.waitUntilExit()
        return ToolResult(
            status: process.terminationStatus,
            stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        )
    }
}
