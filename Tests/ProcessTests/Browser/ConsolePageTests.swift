import Foundation
import Testing

/// The operator console (`/console`) in a real Chromium (Tests/Browser/console_page.py) against
/// a 3-node cluster started with cluster/up and holding one live session.
@Suite("Operator console in Chromium", .serialized)
struct ConsolePageTests {
    @Test("lists the 3 members and the session; 401/403 messages; drain with confirmation moves the primary")
    func console() async throws {
        try await LocalCluster.with(size: 3, nodeFlags: ["--replicas", "3"]) { cluster in
            let secret = try cluster.secret("QUNBO_AUTH_SECRET")
            let minted = try await Tools.run(
                NodeProcess.binary,
                ["token", "--secret", secret, "--user", "ann", "--group", "g1:owner"]
            )
            let ann = minted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let started = try await Curl.call(
                "POST",
                cluster.url(of: "n1") + "/v1/groups/g1/live",
                token: ann,
                json: #"{"title":"console test"}"#
            )
            try #require(started.status == 201, "start: \(started.body)")
            // Drain the node that leads the session, so the drain visibly moves something.
            let primary = LiveFixture.object(started.body)["primary"] as? String ?? "n3"
            let page = primary == "n1" ? "n2" : "n1"
            let result = try await BrowserScript.run(
                "console_page",
                [
                    "--node", cluster.url(of: page), "--admin-token", cluster.adminToken, "--client-token", ann,
                    "--group", "g1", "--members", cluster.ids().joined(separator: ","), "--drain", primary,
                    "--shots", BrowserScript.shotsDirectory("console"),
                ]
            )
            #expect(result.status == 0, "\(BrowserScript.report(result))\n\(cluster.logs())")
            #expect(result.stdout.contains("PASS"), "\(BrowserScript.report(result))")
            print(result.stdout)
        }
    }
}
