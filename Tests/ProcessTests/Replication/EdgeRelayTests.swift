import Foundation
import Testing

/// Edge relays (issue 17) on real processes: 5 nodes, replicas 3, viewers on the two nodes that
/// hold no replica.
extension ReplicationTests {
    /// The relay copy `node` lists for `session`, if any.
    static func relayCopy(_ cluster: LocalCluster, _ session: String, on node: String) -> HeldSession? {
        guard let copy = try? cluster.held(session, on: node), copy.role == "relay" else { return nil }
        return copy
    }

    /// The value of an unlabelled metric in node `id`'s `/metrics`.
    static func metric(_ cluster: LocalCluster, _ id: String, _ name: String) -> Double? {
        guard let text = try? httpGet(port: cluster.port(of: id), path: "/metrics").body else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ")[1])
        }
        return nil
    }

    @Test(
        "--route relay: one upstream pull per relay node however many viewers; the upstream killed, every event once, in order"
    )
    func edgeRelays() async throws {
        try await LocalCluster.with(size: 5, nodeFlags: Self.nodeFlags + ["--route", "relay"]) { cluster in
            let ids = cluster.ids()
            let users = try await GroupUsers.mint(for: cluster, group: "relayed", memberCount: 4)
            let started = try await Self.startSession(cluster, users, at: "n1", title: "hot")
            let outsiders = ids.filter { !started.replicas.contains($0) }
            try #require(outsiders.count == 2)

            // Three event viewers on each non-replica node, served there (200 from that node,
            // no redirect) from its relay copy.
            var viewers: [String: [EventReader]] = [:]
            for node in outsiders {
                for user in ["u0", "u1", "u2"] {
                    let reader = try EventReader(
                        url: users.url(cluster, node, "/live/events"),
                        token: users.token(user)
                    )
                    viewers[node, default: []].append(reader)
                }
            }
            defer { viewers.values.joined().forEach { $0.stop() } }
            for reader in viewers.values.joined() { try await reader.waitFor(seq: 1, timeout: 20) }
            let head = try await Self.head(users.url(cluster, outsiders[0], "/live/events"), users.token("u3"))
            #expect(head.status == 200 && Self.header("Qunbo-Node", in: head.headers) == outsiders[0])
            #expect(Self.header("Qunbo-Replica", in: head.headers) == nil, "a relay serves, it does not proxy")

            // Each relay node: one relay copy, one upstream subscription, its viewers counted;
            // its upstream (a replica) lists it among the relays it feeds.
            var upstreams: [String: String] = [:]
            for node in outsiders {
                try await waitUntil("\(node) to list its relay copy with 3 viewers", timeout: 20) {
                    Self.relayCopy(cluster, started.id, on: node)?.viewers == 3
                }
                let copy = try #require(Self.relayCopy(cluster, started.id, on: node))
                let upstream = try #require(copy.upstream)
                #expect(started.replicas.contains(upstream), "\(node) pulls from \(upstream), no replica")
                upstreams[node] = upstream
                try await waitUntil("\(node) to hold exactly one upstream subscription", timeout: 10) {
                    Self.metric(cluster, node, "qunbo_relay_upstream_subscriptions") == 1
                        && Self.metric(cluster, node, "qunbo_relay_sessions") == 1
                }
                try await waitUntil("\(upstream) to list \(node) among the relays it feeds", timeout: 10) {
                    (try? cluster.held(started.id, on: upstream))?.relays?.contains(node) == true
                }
            }

            // Media through the relays: an encoder pushing through a node that is never killed
            // (it forwards to the primary, and reconnects through it after a failover).
            let broadcaster = Broadcaster(
                url: users.url(cluster, outsiders[1], "/live/ingest?access_token=\(users.token("host"))")
            )
            broadcaster.start()
            defer { broadcaster.stop() }
            func decodes(at node: String) async throws {
                var decoded = (frames: 0, errors: "")
                try await waitUntil("stream.ts to decode at \(node)", timeout: 30) {
                    decoded = try await FFmpeg.decode(
                        users.url(cluster, node, "/live/stream.ts?access_token=\(users.token("u0"))"),
                        seconds: 2
                    )
                    return decoded.frames >= 25
                }
                #expect(decoded.frames >= 25, "stream.ts at \(node): \(decoded)")
            }
            for node in outsiders { try await decodes(at: node) }

            // Comments before and after a kill -9 of the first relay's upstream.
            var posted: UInt64 = 1
            // Authors take turns, and a 429 (the per-user rate limit) is waited out and retried.
            var turn = 0
            func comment(_ text: String, at node: String) async throws {
                var answer = (status: 0, body: "")
                for _ in 0..<40 {
                    turn += 1
                    answer = try await users.call(
                        cluster,
                        at: node,
                        "POST",
                        "/live/comments",
                        as: "u\(turn % 4)",
                        json: #"{"text":"\#(text)","id":"\#(text)"}"#
                    )
                    guard answer.status == 429 else { break }
                    try await Task.sleep(for: .milliseconds(200))
                }
                #expect(answer.status == 201, "\(text) at \(node): \(answer.status) \(answer.body)")
                if let seq = (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])?["seq"]
                    as? NSNumber
                {
                    posted = max(posted, seq.uint64Value)
                }
            }
            for i in 0..<20 { try await comment("before-\(i)", at: outsiders[i % 2]) }
            let victim = upstreams[outsiders[0]]!
            try await cluster.kill(victim)
            for i in 0..<20 { try await comment("after-\(i)", at: outsiders[i % 2]) }

            for (node, readers) in viewers {
                for reader in readers {
                    let events = try await reader.waitFor(seq: posted, timeout: 30)
                    let seqs = events.map(\.seq)
                    #expect(seqs == Array(1...posted), "a viewer at \(node) saw \(seqs)")
                    #expect(reader.isConnected, "a relay viewer at \(node) was cut off")
                }
            }
            // The relay moved to a live copy, still one subscription.
            try await waitUntil("\(outsiders[0]) to re-attach away from \(victim)", timeout: 20) {
                guard let copy = Self.relayCopy(cluster, started.id, on: outsiders[0]) else { return false }
                return copy.upstream != nil && copy.upstream != victim
            }
            #expect(Self.metric(cluster, outsiders[0], "qunbo_relay_upstream_subscriptions") == 1)
            // Media resumes through the re-attached relay.
            try await decodes(at: outsiders[0])
        }
    }

    @Test("--route auto: viewers are redirected below --relay-threshold and relayed above it")
    func autoRelaysPastTheThreshold() async throws {
        try await LocalCluster.with(
            size: 5,
            nodeFlags: Self.nodeFlags + ["--route", "auto", "--relay-threshold", "2"]
        ) { cluster in
            let ids = cluster.ids()
            let users = try await GroupUsers.mint(for: cluster, group: "growing", memberCount: 3)
            let started = try await Self.startSession(cluster, users, at: "n1", title: "growing")
            let outsider = try #require(ids.first { !started.replicas.contains($0) })
            let url = users.url(cluster, outsider, "/live/events")

            let small = try await Self.head(url, users.token("u0"))
            #expect(small.status == 307, "below the threshold: \(small.status)")
            #expect(try cluster.held(started.id, on: outsider) == nil, "no relay copy below the threshold")

            // Two viewers on every replica: whichever replica the outsider asks serves two.
            var crowd: [EventReader] = []
            defer { crowd.forEach { $0.stop() } }
            for replica in started.replicas {
                for user in ["u1", "u2"] {
                    let reader = try EventReader(
                        url: users.url(cluster, replica, "/live/events"),
                        token: users.token(user)
                    )
                    crowd.append(reader)
                }
            }
            for reader in crowd { try await reader.waitFor(seq: 1, timeout: 20) }
            try await waitUntil("\(outsider) to relay past the threshold", timeout: 20) {
                let answer = try await Self.head(url, users.token("u0"))
                return answer.status == 200 && Self.header("Qunbo-Node", in: answer.headers) == outsider
            }
            let relayed = try EventReader(url: url, token: users.token("u0"))
            defer { relayed.stop() }
            try await relayed.waitFor(seq: 1, timeout: 20)
            #expect(Self.relayCopy(cluster, started.id, on: outsider) != nil)
            // A client may still ask for the redirect.
            let asked = try await Self.head(url, users.token("u0"), headers: ["Qunbo-Route: redirect"])
            #expect(asked.status == 307, "Qunbo-Route: redirect at a relaying node: \(asked.status)")
        }
    }
}
