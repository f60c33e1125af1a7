import Foundation
import Testing

extension ReplicationTests {
    @Test("viewer routes at a node holding no replica: 307 to a replica, or relayed with Qunbo-Route: proxy")
    func viewerRouting() async throws {
        try await LocalCluster.with(size: 5, nodeFlags: Self.nodeFlags) { cluster in
            let ids = cluster.ids()
            let users = try await GroupUsers.mint(for: cluster, group: "routing", memberCount: 2)
            let started = try await Self.startSession(cluster, users, at: "n1", title: "routing")
            let outsider = try #require(ids.first { !started.replicas.contains($0) })
            let auth = ["Authorization": "Bearer \(users.token("u0"))"]

            // Every viewer route: 307 with Location on a replica's address (same path and query)
            // and Qunbo-Replica naming that replica.
            for route in ["/live/events?after=0", "/live/stream.ts", "/live/index.m3u8", "/live/segments/0.ts"] {
                let path = "/v1/groups/\(users.group)\(route)"
                let answer = try httpGet(port: cluster.port(of: outsider), path: path, headers: auth)
                #expect(answer.status == 307, "\(route) at \(outsider): \(answer.status) \(answer.body)")
                let replica = Self.header("Qunbo-Replica", in: answer.headers) ?? ""
                #expect(started.replicas.contains(replica), "\(route): Qunbo-Replica \(replica) is no replica")
                #expect(Self.header("Location", in: answer.headers) == cluster.url(of: replica) + path)
                #expect(Self.header("Qunbo-Node", in: answer.headers) == outsider)
            }
            // No token, or a token for another group: refused, not redirected.
            let eventsPath = "/v1/groups/\(users.group)/live/events"
            #expect(try httpGet(port: cluster.port(of: outsider), path: eventsPath).status == 401)
            let stranger = try await GroupUsers.mint(for: cluster, group: "elsewhere", memberCount: 1)
            let refused = try httpGet(
                port: cluster.port(of: outsider),
                path: eventsPath,
                headers: ["Authorization": "Bearer \(stranger.token("u0"))"]
            )
            #expect(refused.status == 403, "a non-member at \(outsider): \(refused.status)")

            // A replica answers itself.
            let direct = try await Self.head(users.url(cluster, started.replicas[0], "/live/events"), users.token("u0"))
            #expect(direct.status == 200 && Self.header("Qunbo-Node", in: direct.headers) == started.replicas[0])

            // Followed, the redirect streams the log.
            let followed = try EventReader(
                url: users.url(cluster, outsider, "/live/events"),
                token: users.token("u0"),
                followRedirects: true
            )
            defer { followed.stop() }
            try await followed.waitFor(seq: 1, timeout: 10)

            // With Qunbo-Route: proxy the same node answers 200 itself and relays the stream live.
            let proxied = try await Self.head(
                users.url(cluster, outsider, "/live/events"),
                users.token("u0"),
                headers: ["Qunbo-Route: proxy"]
            )
            #expect(proxied.status == 200, "proxied events at \(outsider): \(proxied.status)")
            #expect(Self.header("Qunbo-Node", in: proxied.headers) == outsider)
            #expect(Self.header("Content-Type", in: proxied.headers)?.hasPrefix("text/event-stream") == true)
            #expect(started.replicas.contains(Self.header("Qunbo-Replica", in: proxied.headers) ?? ""))
            let viewer = try EventReader(
                url: users.url(cluster, outsider, "/live/events"),
                token: users.token("u0"),
                headers: ["Qunbo-Route: proxy"]
            )
            defer { viewer.stop() }
            try await viewer.waitFor(seq: 1, timeout: 10)
            let posted = try await users.call(
                cluster,
                at: outsider,
                "POST",
                "/live/comments",
                as: "u1",
                json: #"{"text":"through the proxy","id":"p1"}"#
            )
            #expect(posted.status == 201, "\(posted.body)")
            let events = try await viewer.waitFor(seq: 2, timeout: 10)
            #expect(events.map(\.seq) == [1, 2] && events.last?.text == "through the proxy", "\(events)")
            #expect(followed.events.map(\.seq).starts(with: [1]))
        }
    }

    /// The value of header `name` in a response head, case-insensitively.
    static func header(_ name: String, in head: String) -> String? {
        for line in head.split(separator: "\r\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == name.lowercased() {
                return parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }

    /// The status and head of a streaming GET, read for one second (curl stops on its timeout).
    static func head(
        _ url: String,
        _ token: String,
        headers: [String] = []
    ) async throws -> (status: Int, headers: String) {
        var args = ["-s", "-o", "/dev/null", "-D", "-", "--max-time", "1", "-H", "Authorization: Bearer \(token)"]
        for h in headers { args += ["-H", h] }
        let result = try await Tools.run("curl", args + [url], timeout: 10)
        let head = result.stdout.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n\n").first ?? ""
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
        return (status, head.replacingOccurrences(of: "\n", with: "\r\n"))
    }
}
