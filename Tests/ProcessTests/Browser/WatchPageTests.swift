import Foundation
import Testing

/// The watch page (`/watch/{g}`) in a real Chromium (Playwright, Tests/Browser/watch_page.py)
/// against a real node with a recorded live pushed by ffmpeg: playback, the controls, network
/// loss, the switch to the replay, access errors and the phone layout.
@Suite("Watch page in Chromium", .serialized)
struct WatchPageTests {
    /// A node with the fixture's cast, a recorded live started by ann and ffmpeg pushing to it;
    /// runs `scenario` of watch_page.py and expects it to pass.
    func run(_ scenario: String) async throws {
        let f = try LiveFixture()
        defer { f.stop() }
        try await f.start()
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
        let tokens = try JSONSerialization.data(withJSONObject: f.tokens)
        let result = try await BrowserScript.run(
            "watch_page",
            [
                scenario, "--node", f.node.url, "--group", f.group, "--title", title,
                "--tokens", String(decoding: tokens, as: UTF8.self),
                "--shots", BrowserScript.shotsDirectory("watch-\(scenario)"),
            ]
        )
        #expect(result.status == 0, "\(BrowserScript.report(result))")
        #expect(result.stdout.contains("PASS"), "\(BrowserScript.report(result))")
        print(result.stdout)
    }

    @Test("plays the live; title, host, viewers; comment, like, tip, ask; another user's comment shows")
    func play() async throws { try await run("play") }

    @Test("offline for a few seconds while comments go on: each shown once, in seq order")
    func networkLoss() async throws { try await run("offline") }

    @Test("the live ends: the page plays the replay with its comments at their times")
    func replay() async throws { try await run("replay") }

    @Test("a bad token says the sign-in is invalid; another group's token says not a member")
    func accessErrors() async throws { try await run("access") }

    @Test("phone viewport 360x740: video on top, controls on screen and usable")
    func phone() async throws { try await run("phone") }
}
