import Foundation

/// A Playwright script under Tests/Browser driving Debian's Chromium (ops/setup installs both):
/// `python3 Tests/Browser/<name>.py args`, its output kept for the failure message.
enum BrowserScript {
    static let directory = LocalCluster.root.appendingPathComponent("Tests/Browser")

    /// Where a run's screenshots go (the scripts also copy the best to /tmp/qunbo-shots).
    static func shotsDirectory(_ suite: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("qunbo-shots-\(suite)-\(UUID())").path
    }

    /// Runs the script to its end (killed after `timeout` s); exit 0 means every check passed.
    static func run(_ name: String, _ args: [String], timeout: Double = 240) async throws -> ToolResult {
        _ = try Tools.require("python3")
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") else {
            throw MissingTool(name: "chromium")
        }
        return try await Tools.run(
            "python3",
            [directory.appendingPathComponent("\(name).py").path] + args,
            timeout: timeout
        )
    }

    /// The script's output for a failure message: stdout (its checks) and the tail of stderr.
    static func report(_ result: ToolResult) -> String {
        "exit \(result.status)\n\(result.stdout)\n\(result.stderr.split(separator: "\n").suffix(30).joined(separator: "\n"))"
    }
}
