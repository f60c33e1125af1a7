import Foundation
import Testing

/// A live session's whole life on 3 real nodes started by `cluster/up 3 -- --replicas 3` (what an
/// operator runs): ending it ends its ingest and its recording, counted likes read the same at
/// every node and survive a failover, and an ended session settles for good after gossip flaps.
/// The tests are in extensions, one file each; the helpers they share are here.
@Suite("Session lifecycle on a 3-node cluster", .serialized)
struct SessionLifecycleTests {
    static let nodeFlags = ["--replicas", "3"]

    /// A live session as `POST /v1/groups/G/live` answered.
    struct Live {
        var id: String
        var primary: String
        var replicas: [String]
        var epoch: UInt64
    }

    /// Starts a live session in `users.group` through node `at` as its host; requires a 201 with
    /// three distinct replicas, the primary among them.
    static func startLive(
        _ cluster: LocalCluster,
        _ users: GroupUsers,
        at node: String,
        title: String,
        record: Bool
    ) async throws -> Live {
        let answer = try await users.call(
            cluster,
            at: node,
            "POST",
            "/live",
            as: "host",
            json: #"{"title":"\#(title)","record":\#(record)}"#
        )
        try #require(answer.status == 201, "POST /live at \(node): \(answer.status) \(answer.body)")
        let json = LiveFixture.object(answer.body)
        let live = Live(
            id: json["id"] as? String ?? "",
            primary: json["primary"] as? String ?? "",
            replicas: json["replicas"] as? [String] ?? [],
            epoch: (json["epoch"] as? NSNumber)?.uint64Value ?? 0
        )
        try #require(live.replicas.count == 3 && Set(live.replicas).count == 3, "replicas \(live.replicas)")
        try #require(live.replicas.contains(live.primary), "primary \(live.primary) not in \(live.replicas)")
        return live
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

/// One node's copy of a session as `/admin/v1/sessions` lists it, with the replication-log
/// positions (`logLastSeq`, `logCommitSeq`) and whether it has ended.
struct SessionCopy: Decodable, Equatable, CustomStringConvertible {
    var session: String
    var role: String
    var epoch: UInt64
    var primary: String?
    var members: [String]
    var lastSeq: UInt64
    var committedSeq: UInt64
    var logLastSeq: UInt64
    var logCommitSeq: UInt64
    var ended: Bool

    var isFullyCommitted: Bool { logCommitSeq == logLastSeq }

    var description: String {
        "\(role) epoch \(epoch) primary \(primary ?? "-") members \(members) ended \(ended) "
            + "log \(logCommitSeq)/\(logLastSeq) events \(committedSeq)/\(lastSeq)"
    }
}

extension LocalCluster {
    /// Node `id`'s copy of `session` (nil when it holds none); throws when the node does not answer.
    func copy(of session: String, on id: String) throws -> SessionCopy? {
        let answer = try httpGet(
            port: port(of: id),
            path: "/admin/v1/sessions",
            headers: ["Authorization": "Bearer \(adminToken)"]
        )
        guard answer.status == 200 else { throw AdminFailed(status: answer.status, body: answer.body) }
        return try JSONDecoder().decode([SessionCopy].self, from: Data(answer.body.utf8)).first {
            $0.session == session
        }
    }

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
