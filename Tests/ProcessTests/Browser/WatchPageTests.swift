import Foundation
import Testing

/// The watch page (`/watch/{g}`) in a real Chromium (Playwright, Tests/Browser/watch_page.py)
/// against a real node with a recorded live pushed by ffmpeg: playback, the controls, network
/// loss, the switch to the replay, access errors, the phone layout, and the red packets, product
/// cards and board (Tests/Browser/watch_modules.py).
@Suite("Watch page in Chromium", .serialized)
struct WatchPageTests {
    /// A node with the fixture's cast (and gus, a guest of g1), a recorded live started by ann
    /// and ffmpeg pushing to it; runs `scenario` of `script` and expects it to pass.
    func run(_ scenario: String, script: String = "watch_page") async throws {
        let f = try LiveFixture()
        defer { f.stop() }
        try await f.start()
        var tokens = f.tokens
        let guest = try await Tools.run(
            NodeProcess.binary,
            ["token", "--secret", LiveFixture.secret, "--user", "gus", "--group", "g1:guest", "--name", "Gus"]
        )
        try #require(guest.status == 0, "a guest token: \(guest.stderr)")
        tokens["gus"] = guest.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let title = "Browser test \(scenario) <i>live</i>"
        let body = try JSONSerialization.data(withJSONObject: ["title": title, "record": true])
        let started = try await f.call("POST", "/live", as: "ann", json: String(decoding: body, as: UTF8.self))
        try #require(started.status == 201, "start: \(started.body)")
        let broadcaster = Broadcaster(url: "\(f.base)/live/ingest?access_token=\(f.tokens["ann"]!)")
        broadcaster.start()
        defer { broadcaster.stop() }
        try await waitUntil("the ingest to produce a first HLS segment", timeout: 20) {
            try await f.call("GET", "/live/index.m3u8", as: "bob").status == 200
        }
        try await Self.script(scenario, node: f.node.url, title: title, tokens: tokens, name: script)
    }

    /// Runs `scenario` against `node` with the cast's tokens, expecting it to pass.
    static func script(
        _ scenario: String,
        node: String,
        title: String,
        tokens: [String: String],
        extra: [String] = [],
        name: String = "watch_page"
    ) async throws {
        let cast = try JSONSerialization.data(withJSONObject: tokens)
        let result = try await BrowserScript.run(
            name,
            [
                scenario, "--node", node, "--group", "g1", "--title", title,
                "--tokens", String(decoding: cast, as: UTF8.self),
                "--shots", BrowserScript.shotsDirectory("watch-\(scenario)"),
            ] + extra
        )
        #expect(result.status == 0, "\(BrowserScript.report(result))")
        #expect(result.stdout.contains("PASS"), "\(BrowserScript.report(result))")
        print(result.stdout)
    }

    /// The page served by a node without a replica of the session: its event stream and fMP4
    /// are answered 307 to another node (another origin), where the browser drops the
    /// Authorization header; the SDK sends them again to the replica with it.
    @Test("served by a node without a replica: events and video follow the 307 to a replica")
    func crossNodeRedirect() async throws {
        try await LocalCluster.with(size: 4, nodeFlags: ["--replicas", "3"]) { cluster in
            let tokens = try await Self.cast(cluster)
            let replicas = try cluster.replicas(of: "g1", seenBy: "n1")
            let outsider = try #require(cluster.ids().first { !replicas.contains($0) })
            let replica = cluster.url(of: replicas[0])
            let title = "Redirected live"
            let body = try JSONSerialization.data(withJSONObject: ["title": title, "record": false])
            let started = try await Curl.call(
                "POST",
                replica + "/v1/groups/g1/live",
                token: tokens["ann"],
                json: String(decoding: body, as: UTF8.self)
            )
            try #require(started.status == 201, "start: \(started.body)")
            let broadcaster = Broadcaster(url: "\(replica)/v1/groups/g1/live/ingest?access_token=\(tokens["ann"]!)")
            broadcaster.start()
            defer { broadcaster.stop() }
            let events = try await Curl.call(
                "GET",
                cluster.url(of: outsider) + "/v1/groups/g1/live/events",
                token: tokens["bob"],
                timeout: 2
            )
            #expect(events.status == 307, "\(outsider) redirects viewers (got \(events.status))")
            try await waitUntil("the ingest to produce a first HLS segment", timeout: 20) {
                try await Curl.call("GET", replica + "/v1/groups/g1/live/index.m3u8", token: tokens["bob"]).status
                    == 200
            }
            try await Self.script("play", node: cluster.url(of: outsider), title: title, tokens: tokens)
        }
    }

    /// ann (owner, host), bob and cat (members) of g1, with the cluster's client secret.
    static func cast(_ cluster: LocalCluster) async throws -> [String: String] {
        let secret = try cluster.secret("QUNBO_AUTH_SECRET")
        var tokens: [String: String] = [:]
        for (user, role) in [("ann", "g1:owner"), ("bob", "g1"), ("cat", "g1")] {
            let minted = try await Tools.run(
                NodeProcess.binary,
                ["token", "--secret", secret, "--user", user, "--group", role]
            )
            tokens[user] = minted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return tokens
    }

    /// The page's own node is killed (kill -9) mid-live; the page was given the other nodes in
    /// its link (`#nodes=`) and goes on from them.
    @Test("its node is killed: the page goes on from the other nodes, no comment lost or repeated")
    func nodeFailover() async throws {
        try await LocalCluster.with(size: 3, nodeFlags: ["--replicas", "3"]) { cluster in
            let tokens = try await Self.cast(cluster)
            let title = "Failover live"
            let body = try JSONSerialization.data(withJSONObject: ["title": title, "record": false])
            let started = try await Curl.call(
                "POST",
                cluster.url(of: "n1") + "/v1/groups/g1/live",
                token: tokens["ann"],
                json: String(decoding: body, as: UTF8.self)
            )
            try #require(started.status == 201, "start: \(started.body)")
            // The broadcaster stays with the primary; the page is on another node, which dies.
            let primary = try #require(LiveFixture.object(started.body)["primary"] as? String)
            let victim = try #require(cluster.ids().first { $0 != primary })
            let others = cluster.ids().filter { $0 != victim }.map { cluster.url(of: $0) }
            let broadcaster = Broadcaster(
                url: "\(cluster.url(of: primary))/v1/groups/g1/live/ingest?access_token=\(tokens["ann"]!)"
            )
            broadcaster.start()
            defer { broadcaster.stop() }
            try await waitUntil("the ingest to produce a first HLS segment", timeout: 20) {
                try await Curl.call(
                    "GET",
                    cluster.url(of: victim) + "/v1/groups/g1/live/index.m3u8",
                    token: tokens["bob"]
                ).status == 200
            }
            let kill = [
                "QUNBO_CLUSTER_DIR=\(cluster.dir.path)", LocalCluster.root.appendingPathComponent("cluster/kill").path,
                victim, "KILL",
            ]
            try await Self.script(
                "failover",
                node: cluster.url(of: victim),
                title: title,
                tokens: tokens,
                extra: ["--other-nodes", others.joined(separator: ","), "--kill", kill.joined(separator: " ")]
            )
        }
    }

    @Test("plays the live (time advances, frames decode, not blank); title, host, viewers; comment, like, tip, ask; an API comment shows within 1 s")
    func play() async throws { try await run("play") }

    @Test("offline for a few seconds while comments go on: each shown once, in seq order")
    func networkLoss() async throws { try await run("offline") }

    @Test("the live ends: the replay shows its comments, a stroke, a card and a red packet at their mediaTime")
    func replay() async throws { try await run("replay") }

    @Test("a bad token says the sign-in is invalid; another group's token says not a member")
    func accessErrors() async throws { try await run("access") }

    @Test("phone viewport 360x740: video on top, controls on screen and usable")
    func phone() async throws { try await run("phone") }

    @Test("red packet grabbed in the page shows the API's amount; spotlighted card; stroke on the picture; phone")
    func modules() async throws { try await run("modules", script: "watch_modules") }

    @Test("a guest's grab is refused, the page says why")
    func guestGrab() async throws { try await run("guest", script: "watch_modules") }
}
