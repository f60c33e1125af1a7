import Foundation

/// Client tokens signed with a local cluster's auth secret, for users of one group: `host`
/// (its owner) and members `u0`, `u1`, …
struct GroupUsers: Sendable {
    let group: String
    let members: [String]
    private let tokens: [String: String]

    /// Mints tokens for the host and `memberCount` members of `group`.
    static func mint(for cluster: LocalCluster, group: String, memberCount: Int) async throws -> GroupUsers {
        let secret = try cluster.secret("QUNBO_AUTH_SECRET")
        let members = (0..<memberCount).map { "u\($0)" }
        let cast = [("host", "\(group):owner")] + members.map { ($0, group) }
        let tokens = try await withThrowingTaskGroup(of: (String, String).self) { tasks in
            for (user, membership) in cast {
                tasks.addTask {
                    let minted = try await Tools.run(
                        NodeProcess.binary,
                        ["token", "--secret", secret, "--user", user, "--group", membership, "--ttl", "2h"]
                    )
                    return (user, minted.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
                }
            }
            return try await tasks.reduce(into: [String: String]()) { $0[$1.0] = $1.1 }
        }
        return GroupUsers(group: group, members: members, tokens: tokens)
    }

    func token(_ user: String) -> String { tokens[user]! }

    /// The URL of the group route `path` (e.g. `/live/events`) on node `id`.
    func url(_ cluster: LocalCluster, _ id: String, _ path: String) -> String {
        "\(cluster.url(of: id))/v1/groups/\(group)\(path)"
    }

    /// `curl` the group route `path` on node `id` as `user`.
    func call(
        _ cluster: LocalCluster,
        at id: String,
        _ method: String,
        _ path: String,
        as user: String,
        json: String? = nil,
        headers: [String] = [],
        timeout: Double = 30
    ) async throws -> (status: Int, body: String) {
        try await Curl.call(
            method,
            url(cluster, id, path),
            token: token(user),
            json: json,
            headers: headers,
            timeout: timeout
        )
    }
}
