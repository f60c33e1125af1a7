import Foundation
import Testing

/// What the edge refuses (API.md v1.1, Operators and peers): node-to-node requests without a
/// valid, fresh per-request signature; internal headers sent by clients; operator routes with
/// client tokens.
@Suite("Peer authentication at the edge", .serialized)
struct PeerAuthEdgeTests {
    @Test("internal writes without, with a forged, a wrong-secret or a replayed signature get 401 and change nothing")
    func internalWriteRefusals() async throws {
        try await LocalCluster.with(size: 3, nodeFlags: ["--replicas", "3"]) { cluster in
            let ids = cluster.ids()
            try await waitUntil("3 nodes to see each other alive", timeout: 15) {
                try ids.allSatisfy { try cluster.memberStates(seenBy: $0).values.filter { $0 == "alive" }.count == 3 }
            }
            let users = try await GroupUsers.mint(for: cluster, group: "edge", memberCount: 2)
            let started = try await ReplicationTests.startSession(cluster, users, at: "n1", title: "edge")
            let (primary, _) = try #require(cluster.primary(of: started.id, among: ids))
            let path = "/internal/v1/groups/edge/live/write"
            let url = cluster.url(of: primary) + path
            func write(_ id: String, _ auth: String?) async throws -> Int {
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                let command = #"{"comment":{"text":"\#(id)","clientID":"\#(id)"}}"#
                let body = #"{"command":\#(command),"actor":{"user":"u0","role":"member"},"now":\#(now)}"#
                return try await Curl.call(
                    "POST",
                    url,
                    token: nil,
                    json: body,
                    headers: auth.map { ["Qunbo-Peer-Auth: \($0)"] } ?? []
                ).status
            }
            let before = try await ReplicationTests.lastEventSeq(cluster, users, at: primary)
            let signer = PeerSigner(secret: try cluster.secret("QUNBO_CLUSTER_SECRET"), node: "n2")
            let stranger = PeerSigner(secret: String(repeating: "w", count: 40), node: "n2")
            let valid = signer.header("POST", path)
            let forged = String(valid.dropLast(64)) + String(repeating: "0", count: 64)
            let stale = signer.header("POST", path, timestamp: Int64(Date().timeIntervalSince1970 * 1000) - 120_000)
            #expect(try await write("none", nil) == 401)
            #expect(try await write("forged", forged) == 401)
            #expect(try await write("stranger", stranger.header("POST", path)) == 401)
            #expect(try await write("stale", stale) == 401)
            #expect(try await write("static", "v1 \(try cluster.secret("QUNBO_CLUSTER_SECRET"))") == 401)
            #expect(try await ReplicationTests.lastEventSeq(cluster, users, at: primary) == before)
            // Signed properly: accepted once; the same signature again is a replay.
            #expect(try await write("valid", valid) == 200)
            #expect(try await ReplicationTests.lastEventSeq(cluster, users, at: primary) == before + 1)
            #expect(try await write("replayed", valid) == 401)
            // The lookup route too, at another node.
            let other = try #require(ids.first { $0 != primary })
            let lookup = signer.header("GET", "/internal/v1/groups/edge/live")
            let first = try await Curl.call(
                "GET",
                cluster.url(of: other) + "/internal/v1/groups/edge/live",
                token: nil,
                headers: ["Qunbo-Peer-Auth: \(lookup)"]
            )
            #expect(first.status == 200)
            let again = try await Curl.call(
                "GET",
                cluster.url(of: other) + "/internal/v1/groups/edge/live",
                token: nil,
                headers: ["Qunbo-Peer-Auth: \(lookup)"]
            )
            #expect(again.status == 401 && again.body.contains("peer_replayed"), "\(again.body)")
            #expect(try await ReplicationTests.lastEventSeq(cluster, users, at: primary) == before + 1)
            // The cluster still works: a client comment through any node lands once.
            let ok = try await users.call(
                cluster,
                at: "n3",
                "POST",
                "/live/comments",
                as: "u1",
                json: #"{"text":"after","id":"after-1"}"#
            )
            #expect(ok.status == 201, "\(ok.body)")
            #expect(try await ReplicationTests.lastEventSeq(cluster, users, at: primary) == before + 2)
            let metrics = try httpGet(port: cluster.port(of: primary), path: "/metrics").body
            #expect(metrics.contains("qunbo_peer_auth_refused_total{reason=\"bad_signature\"} 2"), "\(metrics)")
            #expect(metrics.contains("qunbo_peer_auth_refused_total{reason=\"missing\"} 1"))
            #expect(metrics.contains("qunbo_peer_auth_refused_total{reason=\"skewed\"} 1"))
            #expect(metrics.contains("qunbo_peer_auth_refused_total{reason=\"replayed\"} 1"))
        }
    }

    @Test("a client's Qunbo-Forwarded on start is dropped: the start still goes to the owner, one live per group")
    func forgedForwardedHeader() async throws {
        try await LocalCluster.with(size: 3, nodeFlags: ["--replicas", "2"]) { cluster in
            let ids = cluster.ids()
            try await waitUntil("3 nodes to see each other alive", timeout: 15) {
                try ids.allSatisfy { try cluster.memberStates(seenBy: $0).values.filter { $0 == "alive" }.count == 3 }
            }
            // A few groups, so some have an owner other than the node the client talks to.
            var checked = 0
            for group in ["fw-a", "fw-b", "fw-c", "fw-d", "fw-e", "fw-f"] {
                let owner = try #require(try cluster.replicas(of: group, seenBy: "n1").first)
                guard let other = ids.first(where: { $0 != owner }) else { continue }
                let users = try await GroupUsers.mint(for: cluster, group: group, memberCount: 1)
                // Both at once: the owner's own start and a client's at another node claiming
                // the request was already forwarded.
                async let atOther = users.call(
                    cluster,
                    at: other,
                    "POST",
                    "/live",
                    as: "host",
                    json: #"{"title":"forged"}"#,
                    headers: ["Qunbo-Forwarded: \(owner)"]
                )
                async let atOwner = users.call(
                    cluster,
                    at: owner,
                    "POST",
                    "/live",
                    as: "host",
                    json: #"{"title":"own"}"#
                )
                let answers = try await [atOther, atOwner]
                #expect(answers.filter { $0.status == 201 }.count == 1, "\(answers.map(\.status))")
                #expect(answers.allSatisfy { $0.status == 201 || $0.status == 409 }, "\(answers)")
                for answer in answers where answer.status == 201 {
                    #expect(LiveFixture.object(answer.body)["primary"] as? String == owner, "\(answer.body)")
                }
                // Every node that holds a copy of the group's live session holds the same one.
                try await waitUntil("the session's replicas to settle", timeout: 10) {
                    var sessionIDs = Set<String>()
                    for id in ids {
                        for held in try cluster.sessions(on: id) where held.group == group {
                            sessionIDs.insert(held.session)
                        }
                    }
                    return sessionIDs.count == 1
                }
                checked += 1
            }
            #expect(checked >= 3)
            let dropped = try ids.map { try httpGet(port: cluster.port(of: $0), path: "/metrics").body }
            #expect(dropped.contains { $0.contains("qunbo_peer_internal_headers_dropped_total") })
        }
    }

    @Test("/admin: a token signed with the cluster secret 200, with the client secret 403, a bad one 401")
    func operatorTokens() async throws {
        try await LocalCluster.with(size: 1) { cluster in
            let port = cluster.port(of: "n1")
            let clientAdmin = try await Tools.run(
                NodeProcess.binary,
                ["token", "--secret", try cluster.secret("QUNBO_AUTH_SECRET"), "--user", "ops", "--group", "g:owner"]
                    + ["--ttl", "10m"]
            ).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            // A client token forged to claim admin (signed with the client secret, as the chat
            // platform could): not an operator.
            let forgedAdmin = try await Tools.run(
                NodeProcess.binary,
                ["token", "--cluster-secret", try cluster.secret("QUNBO_AUTH_SECRET"), "--user", "ops", "--admin"]
            ).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            func status(_ token: String?) throws -> Int {
                try httpGet(
                    port: port,
                    path: "/admin/v1/members",
                    headers: token.map { ["Authorization": "Bearer \($0)"] } ?? [:]
                ).status
            }
            #expect(try status(cluster.adminToken) == 200)
            #expect(try status(clientAdmin) == 403)
            #expect(try status(forgedAdmin) == 403)
            #expect(try status("x.y.z") == 401)
            #expect(try status(nil) == 401)
            // The operator CLI mints from the cluster secret.
            var environment = ProcessInfo.processInfo.environment
            environment["QUNBO_CLUSTER_SECRET"] = try cluster.secret("QUNBO_CLUSTER_SECRET")
            environment["QUNBO_NODE"] = cluster.url(of: "n1")
            let members = try await Tools.run(NodeProcess.binary, ["members"], environment: environment)
            #expect(members.status == 0 && members.stdout.contains("n1"), "\(members.stdout)\(members.stderr)")
        }
    }
}
