import Foundation
import Testing

/// Replicated live sessions on 5 real nodes started by `cluster/up 5 -- --replicas 3`: failover
/// under writes and under a broadcaster, viewer routing, drain. The tests are in extensions, one
/// file each.
@Suite("Replicated sessions on real processes", .serialized)
struct ReplicationTests {
    static let nodeFlags = ["--replicas", "3"]

    /// A live session as `POST /v1/groups/G/live` answered.
    struct StartedSession {
        var id: String
        var primary: String
        var replicas: [String]
        var epoch: UInt64
    }

    /// Starts a live session in `users.group` through node `at` as its host; requires a 201 with
    /// three distinct replicas, the primary among them.
    static func startSession(
        _ cluster: LocalCluster,
        _ users: GroupUsers,
        at node: String,
        title: String,
        record: Bool = false
    ) async throws -> StartedSession {
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
        let session = StartedSession(
            id: json["id"] as? String ?? "",
            primary: json["primary"] as? String ?? "",
            replicas: json["replicas"] as? [String] ?? [],
            epoch: (json["epoch"] as? NSNumber)?.uint64Value ?? 0
        )
        try #require(session.replicas.count == 3 && Set(session.replicas).count == 3, "replicas \(session.replicas)")
        try #require(session.replicas.contains(session.primary), "primary \(session.primary) not in \(session.replicas)")
        return session
    }

    /// The session's last event seq, as `GET …/live` at `node` answers.
    static func lastEventSeq(_ cluster: LocalCluster, _ users: GroupUsers, at node: String) async throws -> UInt64 {
        let answer = try await users.call(cluster, at: node, "GET", "/live", as: "u0")
        try #require(answer.status == 200, "GET /live at \(node): \(answer.status) \(answer.body)")
        return try #require((LiveFixture.object(answer.body)["lastSeq"] as? NSNumber)?.uint64Value)
    }
}
