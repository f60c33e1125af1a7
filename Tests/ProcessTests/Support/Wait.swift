import Foundation

/// Why a test gave up waiting.
struct WaitTimeout: Error, CustomStringConvertible {
    var what: String
    var seconds: Double
    var description: String { "timed out after \(seconds) s waiting for \(what)" }
}

/// Polls `condition` every 50 ms until it holds or the deadline passes: tests wait for
/// conditions, never for a fixed time.
func waitUntil(
    _ what: String,
    timeout seconds: Double = 10,
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    if try await condition() { return }
    throw WaitTimeout(what: what, seconds: seconds)
}
