import Foundation
import Testing

/// Membership and placement on real processes started by `cluster/up`.
@Suite("Cluster membership on real processes", .serialized)
struct ClusterMembershipTests {
    @Test("5 nodes converge, detect a kill -9, agree on the ring, and re-admit the restarted node")
    func joinKillRestart() async throws {
        try await LocalCluster.with(size: 5) { cluster in
            let ids = cluster.ids()

            // Every node lists all 5 alive within 5 s of the cluster being up.
            try await waitUntil("all 5 nodes to list 5 alive", timeout: 5) {
                try ids.allSatisfy { id in
                    let states = try cluster.memberStates(seenBy: id)
                    return states.count == 5 && states.values.allSatisfy { $0 == "alive" }
                }
            }

            // kill -9 one node: every survivor lists it dead.
            let victim = "n3"
            try await cluster.kill(victim)
            let survivors = ids.filter { $0 != victim }
            do {
                try await waitUntil("every survivor to list \(victim) dead", timeout: 20) {
                    try survivors.allSatisfy { try cluster.memberStates(seenBy: $0)[victim] == "dead" }
                }
            } catch {
                Issue.record("\(error)\n\(cluster.logs())")
                throw error
            }

            // The ring for 50 groups is identical on every survivor and excludes the dead node.
            let groups = (0..<50).map { "group-\($0)" }
            var first: [[String]] = []
            for (i, id) in survivors.enumerated() {
                let lists = try groups.map { try cluster.replicas(of: $0, seenBy: id) }
                if i == 0 {
                    first = lists
                } else {
                    #expect(lists == first, "\(id) computes a different ring than \(survivors[0])")
                }
            }
            #expect(first.allSatisfy { $0.count == 3 && Set($0).count == 3 && !$0.contains(victim) })

            // Restart it with the same id: alive again everywhere, under a new generation.
            try await cluster.restart(victim)
            try await waitUntil("every node to list \(victim) alive again", timeout: 10) {
                try ids.allSatisfy { try cluster.memberStates(seenBy: $0)[victim] == "alive" }
            }
        }
    }

    @Test("gossip without a valid peer signature gets 401 and changes nothing; a signed malformed one 400")
    func unauthenticatedGossip() async throws {
        try await LocalCluster.with(size: 2) { cluster in
            try await waitUntil("2 nodes to see each other", timeout: 5) {
                try cluster.memberStates(seenBy: "n1").count == 2
            }
            let url = "http://127.0.0.1:\(cluster.port(of: "n1"))/internal/v1/gossip"
            func post(_ headers: [String], _ body: String, http2: Bool = false) async throws -> String {
                var args = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "--data-binary", body]
                if http2 { args.append("--http2-prior-knowledge") }
                for h in headers { args += ["-H", h] }
                return try await Tools.run("curl", args + [url]).stdout
            }
            let secret = try cluster.secret("QUNBO_CLUSTER_SECRET")
            // No signature (over HTTP/2 too), the old static header carrying the real secret,
            // a signature made with another secret: 401 before any handler runs.
            #expect(try await post([], "x", http2: true) == "401")
            #expect(try await post(["Qunbo-Cluster-Secret: \(secret)"], "x") == "401")
            let stranger = PeerSigner(secret: String(repeating: "w", count: 40))
            #expect(
                try await post(["Qunbo-Peer-Auth: \(stranger.header("POST", "/internal/v1/gossip"))"], "x") == "401"
            )
            // Signed but a malformed body: 400, and the view is unchanged.
            let signer = PeerSigner(secret: secret)
            for body in [
                "garbage", "\u{0}\u{0}\u{0}\u{5}\u{0}{\"a\"}", "\u{0}\u{0}\u{0}\u{4}\u{1}\u{0}\u{0}\u{FF}\u{FF}abcd",
            ] {
                #expect(
                    try await post(["Qunbo-Peer-Auth: \(signer.header("POST", "/internal/v1/gossip"))"], body) == "400"
                )
            }
            let states = try cluster.memberStates(seenBy: "n1")
            #expect(states == ["n1": "alive", "n2": "alive"])
            let metrics = try httpGet(port: cluster.port(of: "n1"), path: "/metrics").body
            #expect(metrics.contains("qunbo_peer_auth_refused_total{reason=\"missing\"} 2"))
            #expect(metrics.contains("qunbo_peer_auth_refused_total{reason=\"bad_signature\"} 1"))
            #expect(metrics.contains("qunbo_gossip_messages_dropped_total{reason=\"malformed\"} 3"))
        }
    }

    @Test("admin routes need an admin token")
    func adminNeedsToken() async throws {
        try await LocalCluster.with(size: 1) { cluster in
            let port = cluster.port(of: "n1")
            #expect(try httpGet(port: port, path: "/admin/v1/members").status == 401)
            #expect(
                try httpGet(port: port, path: "/admin/v1/members", headers: ["Authorization": "Bearer x.y.z"]).status
                    == 401
            )
            #expect(
                try httpGet(
                    port: port,
                    path: "/admin/v1/ring?group=bad%20group",
                    headers: ["Authorization": "Bearer \(cluster.adminToken)"]
                ).status == 400
            )
            let members = try cluster.admin("n1", "/admin/v1/members") as? [String: Any]
            #expect(members?["self"] as? String == "n1")
            let ring = try cluster.admin("n1", "/admin/v1/ring") as? [String: Any]
            #expect(ring?["vnodes"] as? Int == 512)
        }
    }
}
