import Foundation

/// Runs a real tool (ffmpeg, ffprobe) to completion. Its stderr must stay small (errors only):
/// stdout is read to its end first, so a chatty stderr could fill its pipe and stall both.
func runTool(_ executable: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

/// ffprobe's decoded frame count per stream of `file` (`-count_frames`), as "codec,frames" lines
/// in stream order, and what it said on stderr (empty when the file is clean).
func probeFrames(_ file: URL) throws -> (lines: [String], stderr: String) {
    let probe = try runTool(
        "/usr/bin/ffprobe",
        ["-v", "error", "-count_frames", "-show_entries", "stream=codec_name,nb_read_frames", "-of", "csv=p=0", file.path]
    )
    return (probe.stdout.split(separator: "\n").map(String.init), probe.stderr)
}
