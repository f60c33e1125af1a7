import Foundation
import Testing

/// A live session's whole life on 3 real nodes started by `cluster/up 3 -- --replicas 3` (what an
/// operator runs): ending it ends its ingest and its recording, counted likes read the same at
/// every node and survive a failover, and an ended session settles for good after gossip flaps.
/// The tests are in extensions, one file each; the helpers they share are here.
@Suite("Session lifecycle on a 3-node cluster", .serialized)
struct SessionLifecycleTests {
    static let nodeFlags = ["--replicas", "3"]

    /// Starts a live session through node `at` as its host (`ReplicationTests.startSession`).
    static func startLive(
        _ cluster: LocalCluster,
        _ users: GroupUsers,
        at node: String,
        title: String,
        record: Bool
    ) async throws -> ReplicationTests.StartedSession {
        try await ReplicationTests.startSession(cluster, users, at: node, title: title, record: record)
    }

    /// Milliseconds since the Unix epoch of an RFC 3339 time as the API writes it
    /// (`2026-11-25T10:00:00Z` or `…:00.250Z`).
    static func millis(_ text: String?) -> Int64? {
        guard let text else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return Int64((date.timeIntervalSince1970 * 1000).rounded()) }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text).map { Int64((($0.timeIntervalSince1970) * 1000).rounded()) }
    }

    /// The sum of the `#EXTINF` durations of an HLS playlist, and how many segments it lists.
    static func playlistSeconds(_ playlist: String) -> (seconds: Double, segments: Int) {
        var total = 0.0
        var count = 0
        for line in playlist.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) where line.hasPrefix("#EXTINF:") {
            let value = line.dropFirst("#EXTINF:".count).split(separator: ",").first ?? ""
            total += Double(value.trimmingCharacters(in: .whitespaces)) ?? 0
            count += 1
        }
        return (total, count)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func format(_ value: Double) -> String { String(format: "%.2f", value) }
}

extension LocalCluster {
    /// Node `id`'s copy of `session` (nil when it holds none); throws when the node does not answer.
    func copy(of session: String, on id: String) throws -> HeldSession? { try held(session, on: id) }

    /// Each of `ids` with its copy of `session`, or why there is none, one line each.
    func describeCopies(of session: String, on ids: [String]) -> String {
        ids.map { id in
            do {
                return "  \(id): " + (try copy(of: session, on: id).map { "\($0)" } ?? "no copy")
            } catch {
                return "  \(id): unreachable (\(error))"
            }
        }.joined(separator: "\n")
    }

    /// The lines around a crash (a fatal error and its backtrace's start) in each node's log, if any.
    func crashes() -> String {
        ids().compactMap { id -> String? in
            let log = (try? String(contentsOf: dir.appendingPathComponent("\(id)/node.log"), encoding: .utf8)) ?? ""
            let lines = log.split(separator: "\n", omittingEmptySubsequences: false)
            guard
                let at = lines.firstIndex(where: {
                    $0.contains("Fatal error") || $0.contains("💣") || $0.contains("Crash")
                })
            else { return nil }
            return "--- \(id) crashed ---\n" + lines[max(0, at - 5)..<min(lines.count, at + 25)].joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// Whether every node of `ids` sees every node of `ids` alive.
    func allAlive(_ ids: [String]) -> Bool {
        ids.allSatisfy { viewer in
            guard let states = try? memberStates(seenBy: viewer) else { return false }
            return ids.allSatisfy { states[$0] == "alive" }
        }
    }
}
