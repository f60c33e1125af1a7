import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The operator's kit under ops/ checked against the real thing: the alert rules with promtool,
/// the dashboard's and the rules' metric names against what live nodes export, the example
/// config against the node's own flags, the systemd unit's stop sequence against a cluster, and
/// what `cluster/down --wipe` keeps.
@Suite("Operator kit (ops/)", .serialized)
struct OpsKitTests {
    // MARK: Prometheus rules

    @Test("alert rules pass promtool check rules")
    func rulesCheck() async throws {
        let promtool = try Tools.require("promtool")
        let check = try await Tools.run(promtool, ["check", "rules", OpsKit.path("prometheus/qunbo-alerts.yml")])
        #expect(check.status == 0, "promtool check rules:\n\(check.stdout)\(check.stderr)")
        #expect(check.stdout.contains("SUCCESS"), "\(check.stdout)")
    }

    @Test("every alert fires in promtool's unit tests")
    func rulesUnitTests() async throws {
        let promtool = try Tools.require("promtool")
        let test = try await Tools.run(
            promtool,
            ["test", "rules", OpsKit.path("prometheus/qunbo-alerts.test.yml")],
            timeout: 60
        )
        #expect(test.status == 0, "promtool test rules:\n\(test.stdout)\(test.stderr)")
        // A new alert without a test fails here rather than going untested.
        let rules = try OpsKit.Rules.load()
        let tests = try OpsKit.read("prometheus/qunbo-alerts.test.yml")
        for alert in rules.alerts {
            #expect(
                tests.contains("alertname: \(alert.name)\n        exp_alerts:\n          - exp_labels"),
                "\(alert.name) has no unit test in which it fires"
            )
        }
    }

    @Test("every alert has a severity, a summary, a description and a runbook section that exists")
    func alertsAreActionable() throws {
        let rules = try OpsKit.Rules.load()
        #expect(rules.alerts.count >= 10)
        let anchors = try OpsKit.markdownAnchors(OpsKit.read("RUNBOOK.md"))
        for alert in rules.alerts {
            #expect(["critical", "warning"].contains(alert.severity ?? ""), "\(alert.name): severity")
            #expect(alert.text.contains("summary:"), "\(alert.name): no summary")
            #expect(alert.text.contains("description:"), "\(alert.name): no description")
            guard let url = alert.runbookURL else {
                Issue.record("\(alert.name): no runbook_url")
                continue
            }
            #expect(url.hasPrefix("ops/RUNBOOK.md#"), "\(alert.name): \(url)")
            let anchor = String(url.drop { $0 != "#" }.dropFirst())
            #expect(anchors.contains(anchor), "\(alert.name): ops/RUNBOOK.md has no section #\(anchor)")
        }
    }

    // MARK: Grafana dashboard

    @Test("the dashboard is a Grafana dashboard over ${DS_PROMETHEUS} whose queries promtool accepts")
    func dashboardShape() async throws {
        let dashboard = try OpsKit.Dashboard.load()
        #expect(dashboard.json["schemaVersion"] as? Int == 39)
        #expect(dashboard.json["uid"] as? String == "qunbo-cluster")
        let variables = dashboard.variables
        #expect(variables["DS_PROMETHEUS"]?["type"] as? String == "datasource")
        #expect(variables["DS_PROMETHEUS"]?["query"] as? String == "prometheus")
        #expect(variables["instance"]?["type"] as? String == "query")
        #expect(variables["instance"]?["multi"] as? Bool == true)

        let rows = dashboard.panels.filter { $0["type"] as? String == "row" }.compactMap { $0["title"] as? String }
        #expect(rows == ["Cluster", "Traffic", "Live", "Replication", "Storage"])
        var ids = Set<Int>()
        for panel in dashboard.panels {
            let title = panel["title"] as? String ?? "?"
            if let id = panel["id"] as? Int { #expect(ids.insert(id).inserted, "duplicate panel id \(id)") }
            let grid = panel["gridPos"] as? [String: Int] ?? [:]
            #expect((grid["x"] ?? -1) >= 0 && (grid["x"] ?? 0) + (grid["w"] ?? 0) <= 24, "\(title): gridPos \(grid)")
            guard panel["type"] as? String != "row" else { continue }
            let datasource = panel["datasource"] as? [String: Any]
            #expect(datasource?["uid"] as? String == "${DS_PROMETHEUS}", "\(title): datasource")
            let targets = panel["targets"] as? [[String: Any]] ?? []
            #expect(!targets.isEmpty, "\(title): no query")
            for target in targets {
                #expect((target["datasource"] as? [String: Any])?["uid"] as? String == "${DS_PROMETHEUS}", "\(title)")
            }
            #expect(!(panel["description"] as? String ?? "").isEmpty, "\(title): no description")
        }

        // promtool parses PromQL as Prometheus does: each query, its Grafana variables filled
        // in, becomes a recording rule of a throwaway rules file.
        var yaml = "groups:\n  - name: dashboard\n    rules:\n"
        for (i, expr) in dashboard.expressions.enumerated() {
            let filled = expr.replacingOccurrences(of: "$__rate_interval", with: "1m")
                .replacing(/\$\{?[A-Za-z_]+\}?/, with: "x")
            yaml += "      - record: dashboard:query_\(i)\n        expr: |\n          \(filled)\n"
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("dashboard-\(UUID()).yml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let check = try await Tools.run(try Tools.require("promtool"), ["check", "rules", file.path])
        #expect(check.status == 0, "a dashboard query is not valid PromQL:\n\(check.stdout)\(check.stderr)")
    }

    // MARK: Metric names against live nodes, and the unit's stop sequence

    /// Series that exist only after activity are created here rather than allow-listed: a
    /// 2-node cluster with a live session and a durable write exports `qunbo_replication_lag_entries`
    /// (on the primary) and `qunbo_replication_queue_bytes` (once a link has carried anything).
    @Test("every metric the dashboard and the alerts use is exported; the unit's ExecStop drains a primary")
    func metricNamesAndDrain() async throws {
        let dashboard = try OpsKit.Dashboard.load()
        let rules = try OpsKit.Rules.load()
        let unit = try OpsKit.Unit.load()
        // With RTMP on, as `cluster/up` runs nodes: its series are on the dashboard too.
        // A webhook URL (nobody listens there) so the per-destination webhook gauges exist too.
        let webhooks = ["--webhook-url", "http://127.0.0.1:9/hooks", "--webhook-secret", "opskit-webhook-secret"]
        try await LocalCluster.with(size: 2, nodeFlags: webhooks, rtmp: true) { cluster in
            try await waitUntil("both nodes to see each other", timeout: 15) {
                try cluster.memberStates(seenBy: "n1").values.filter { $0 == "alive" }.count == 2
            }
            let secret = try OpsKit.authSecret(of: cluster)
            let ann = try await Tools.run(
                NodeProcess.binary,
                ["token", "--secret", secret, "--user", "ann", "--group", "g1:owner", "--ttl", "10m"]
            ).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let n1 = "http://127.0.0.1:\(cluster.port(of: "n1"))"
            let started = try await OpsKit.curl(
                ["-X", "POST", "-d", #"{"title":"ops kit"}"#],
                "\(n1)/v1/groups/g1/live",
                token: ann
            )
            #expect(started.status == 201, "start: \(started.body)")
            let comment = try await OpsKit.curl(
                ["-X", "POST", "-d", #"{"text":"hello","id":"ops-kit-1"}"#],
                "\(n1)/v1/groups/g1/live/comments",
                token: ann
            )
            #expect(comment.status == 201, "comment: \(comment.body)")

            var exported = Set<String>()
            try await waitUntil("the replication series to appear", timeout: 20) {
                exported = []
                for id in cluster.ids() {
                    let metrics = try httpGet(port: cluster.port(of: id), path: "/metrics").body
                    exported.formUnion(OpsKit.exportedNames(metrics))
                }
                return exported.contains("qunbo_replication_lag_entries")
                    && exported.contains("qunbo_replication_queue_bytes")
            }
            // `up` and `ALERTS` are Prometheus's own series; `level:metric:operation` names are
            // recording rules, which must be defined in the rules file.
            let prometheusOwn: Set<String> = ["up", "ALERTS"]
            for (source, names) in [("dashboard", dashboard.metricNames), ("alert rules", rules.metricNames)] {
                for name in names.sorted() where !prometheusOwn.contains(name) {
                    if name.contains(":") {
                        #expect(rules.records.contains(name), "\(source) uses \(name), which no rule records")
                    } else {
                        #expect(exported.contains(name), "\(source) uses \(name), which no node exports")
                    }
                }
            }
            // Every family the node exports is on the dashboard.
            for family in OpsKit.families(exported) {
                #expect(dashboard.metricNames.contains { OpsKit.family(of: $0) == family }, "\(family) is on no panel")
            }

            // systemd's stop: ExecStop exactly as the unit writes it, against the session's primary.
            let session = try await OpsKit.curl([], "\(n1)/v1/groups/g1/live", token: ann)
            let primary = try #require(OpsKit.object(session.body)["primary"] as? String, "\(session.body)")
            let other = cluster.ids().first { $0 != primary }!
            var environment = ProcessInfo.processInfo.environment
            environment["QUNBO_NODE"] = "http://127.0.0.1:\(cluster.port(of: primary))"
            // The unit's ExecStop mints an operator token: with the cluster secret.
            environment["QUNBO_CLUSTER_SECRET"] = try cluster.secret("QUNBO_CLUSTER_SECRET")
            let drain = try await Tools.run(
                NodeProcess.binary,
                unit.execStopArguments,
                timeout: unit.timeoutStopSeconds,
                environment: environment
            )
            #expect(drain.status == 0, "ExecStop: \(drain.stdout)\(drain.stderr)")
            #expect(drain.stdout.contains("drained: no primary left on this node"), "\(drain.stdout)")
            try await waitUntil("\(other) to lead the session", timeout: 10) {
                let now = try await OpsKit.curl(
                    [],
                    "http://127.0.0.1:\(cluster.port(of: other))/v1/groups/g1/live",
                    token: ann
                )
                return OpsKit.object(now.body)["primary"] as? String == other
            }
            #expect(try httpGet(port: cluster.port(of: primary), path: "/readyz").status == 503)
            // Then systemd's SIGTERM: the node must be gone well within TimeoutStopSec.
            let pid = try OpsKit.pid(of: primary, in: cluster)
            try await cluster.kill(primary, signal: "TERM")
            try await waitUntil("\(primary) to exit after SIGTERM", timeout: unit.timeoutStopSeconds) {
                !OpsKit.isRunning(pid)
            }
        }
    }

    // MARK: Example config and systemd unit

    @Test("the example config names every `qunbo node` setting and starts a node")
    func exampleConfig() async throws {
        let help = try await Tools.run(NodeProcess.binary, ["node", "--help"])
        #expect(help.status == 0)
        let settings = Set(help.stdout.matches(of: /--([a-z][a-z-]+)/).map { String($0.output.1) })
            .subtracting(["config", "help", "version"])
        #expect(settings.count >= 18, "\(settings)")
        let yaml = try OpsKit.read("qunbo.example.yaml")
        let keys = Set(
            yaml.split(separator: "\n").compactMap { line -> String? in
                line.firstMatch(of: /^(?:# )?([a-z][a-z-]*):/).map { String($0.output.1) }
            }
        )
        for setting in settings.sorted() {
            #expect(keys.contains(setting), "ops/qunbo.example.yaml does not mention \(setting)")
        }
        #expect(keys.subtracting(settings).isEmpty, "keys that are no setting: \(keys.subtracting(settings))")

        // Flags override the file: the test's own port, id and data dir, the rest from the file.
        let node = try NodeProcess(extra: ["--config", OpsKit.path("qunbo.example.yaml")])
        defer { node.stop() }
        try await node.waitHealthy()
        #expect(try httpGet(port: node.port, path: "/readyz").status == 200, "\(node.log)")
        node.signal(SIGTERM)
        #expect(try await node.waitExit() == 0, "\(node.log)")
    }

    @Test("the unit's timeouts fit the node's shutdown budget, and its commands exist")
    func unitTimeouts() async throws {
        let unit = try OpsKit.Unit.load()
        let yaml = try OpsKit.read("qunbo.example.yaml")
        let shutdown = try #require(
            yaml.firstMatch(of: /\nshutdown-timeout: (\d+)s\n/).flatMap { Double($0.output.1) },
            "shutdown-timeout in the example config"
        )
        // systemd applies TimeoutStopSec to ExecStop, then again to the wait after SIGTERM.
        #expect(unit.drainTimeoutSeconds < unit.timeoutStopSeconds)
        #expect(shutdown + 5 < unit.timeoutStopSeconds, "SIGTERM path: shutdown-timeout + 5 s cancellation")
        #expect(unit.text.contains("ExecStart=/usr/local/bin/qunbo node --config /etc/qunbo/qunbo.yaml"))
        let nodeHelp = try await Tools.run(NodeProcess.binary, ["node", "--help"]).stdout
        #expect(nodeHelp.contains("--config") && nodeHelp.contains("--data-dir"))
        let drainHelp = try await Tools.run(NodeProcess.binary, ["drain", "--help"]).stdout
        #expect(drainHelp.contains("--timeout"), "\(drainHelp)")
    }

    // MARK: Local cluster scripts

    /// On a stopped cluster's directory (an emptied node list, as plain `cluster/down` leaves it), so
    /// no process is needed: `--wipe` keeps each node's log under `logs/<time>/<id>.log` and removes
    /// the rest; `--wipe --logs` removes everything. (Stopping real nodes is exercised by every
    /// `LocalCluster` test.)
    @Test("cluster/down --wipe keeps the node logs, --wipe --logs removes them too")
    func clusterDownWipeKeepsLogs() async throws {
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("qunbo-down-\(UUID())")
        defer { try? fm.removeItem(at: dir) }
        for id in ["n1", "n2"] {
            try fm.createDirectory(
                at: dir.appendingPathComponent("\(id)/data/groups"),
                withIntermediateDirectories: true
            )
            try "log of \(id)\n".write(
                to: dir.appendingPathComponent("\(id)/node.log"),
                atomically: true,
                encoding: .utf8
            )
        }
        try "".write(to: dir.appendingPathComponent("nodes"), atomically: true, encoding: .utf8)
        try "QUNBO_AUTH_SECRET=x\n".write(to: dir.appendingPathComponent("env"), atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        environment["QUNBO_CLUSTER_DIR"] = dir.path
        let down = LocalCluster.root.appendingPathComponent("cluster/down").path

        let wipe = try await Tools.run(down, ["--wipe"], environment: environment)
        #expect(wipe.status == 0, "\(wipe.stderr)")
        #expect(try fm.contentsOfDirectory(atPath: dir.path) == ["logs"])
        let runs = try fm.contentsOfDirectory(atPath: dir.appendingPathComponent("logs").path)
        #expect(runs.count == 1, "\(runs)")
        let kept = dir.appendingPathComponent("logs/\(runs.first ?? "")")
        #expect(Set(try fm.contentsOfDirectory(atPath: kept.path)) == ["n1.log", "n2.log"])
        #expect(try String(contentsOf: kept.appendingPathComponent("n2.log"), encoding: .utf8) == "log of n2\n")
        #expect(wipe.stderr.contains("kept in \(kept.path)"), "\(wipe.stderr)")

        let lone = try await Tools.run(down, ["--logs"], environment: environment)
        #expect(lone.status == 2, "--logs without --wipe: \(lone.stderr)")
        #expect(fm.fileExists(atPath: kept.path))

        let all = try await Tools.run(down, ["--wipe", "--logs"], environment: environment)
        #expect(all.status == 0, "\(all.stderr)")
        #expect(!fm.fileExists(atPath: dir.path))
    }

    @Test(
        "systemd-analyze verify accepts the unit",
        .enabled(
            if: Tools.find("systemd-analyze") != nil,
            "systemd-analyze is not installed (Debian package systemd): the unit's syntax is not verified"
        )
    )
    func systemdVerify() async throws {
        // verify checks that ExecStart's binary exists: point the unit at the one just built.
        let unit = try OpsKit.Unit.load()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("unit-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let copy = dir.appendingPathComponent("qunbo.service")
        try unit.text.replacingOccurrences(of: "/usr/local/bin/qunbo", with: NodeProcess.binary)
            .write(to: copy, atomically: true, encoding: .utf8)
        let verify = try await Tools.run("systemd-analyze", ["verify", copy.path], timeout: 60)
        #expect(verify.status == 0, "systemd-analyze verify:\n\(verify.stdout)\(verify.stderr)")
        let complaints = (verify.stdout + verify.stderr).split(separator: "\n").filter { $0.contains("qunbo.service") }
        #expect(complaints.isEmpty, "\(complaints.joined(separator: "\n"))")
    }
}

/// Reading the ops/ files.
enum OpsKit {
    static let root = LocalCluster.root.appendingPathComponent("ops")

    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    static func read(_ relative: String) throws -> String {
        try String(contentsOfFile: path(relative), encoding: .utf8)
    }

    /// Metric names an expression refers to: `qunbo_*` series, `level:metric:operation` recording
    /// rules, and Prometheus's own `up` and `ALERTS`. Label values, regexes, range selectors and
    /// Grafana variables are removed first so none of them reads as a name.
    static func metricNames(in expression: String) -> Set<String> {
        let text = expression.replacing(/"(?:[^"\\]|\\.)*"/, with: " ")
            .replacing(/\[[^\]]*\]/, with: " ")
            .replacing(/\$\{?[A-Za-z_]+\}?/, with: " ")
        var names = Set<String>()
        for match in text.matches(of: /[A-Za-z_:][A-Za-z0-9_:]*/) {
            let token = String(match.output)
            if token.hasPrefix("qunbo_") || token.contains(":") || token == "up" || token == "ALERTS" {
                names.insert(token)
            }
        }
        return names
    }

    /// Sample names of a Prometheus text exposition.
    static func exportedNames(_ exposition: String) -> Set<String> {
        Set(
            exposition.split(separator: "\n").compactMap { line -> String? in
                guard !line.hasPrefix("#"), let name = line.split(whereSeparator: { $0 == "{" || $0 == " " }).first
                else { return nil }
                return String(name)
            }
        )
    }

    /// A histogram's samples (`_bucket`, `_sum`, `_count`) belong to one family.
    static func family(of name: String) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            return String(name.dropLast(suffix.count))
        }
        return name
    }

    static func families(_ names: Set<String>) -> Set<String> {
        Set(names.filter { $0.hasPrefix("qunbo_") }.map(family(of:)))
    }

    /// GitHub's anchors for a Markdown file's headings.
    static func markdownAnchors(_ markdown: String) -> Set<String> {
        Set(
            markdown.split(separator: "\n").compactMap { line -> String? in
                guard let heading = line.firstMatch(of: /^#{1,6} +(.+)$/) else { return nil }
                let lowered = heading.output.1.lowercased()
                let kept = lowered.filter { $0.isLetter || $0.isNumber || $0 == " " || $0 == "-" || $0 == "_" }
                return kept.replacingOccurrences(of: " ", with: "-")
            }
        )
    }

    static func object(_ body: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }

    static func curl(_ args: [String], _ url: String, token: String) async throws -> (status: Int, body: String) {
        let result = try await Tools.run(
            "curl",
            ["-s", "-o", "-", "-w", "\n%{http_code}", "-H", "Authorization: Bearer \(token)"] + args + [url],
            timeout: 30
        )
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    static func authSecret(of cluster: LocalCluster) throws -> String {
        let env = try String(contentsOf: cluster.dir.appendingPathComponent("env"), encoding: .utf8)
        let line = try #require(env.split(separator: "\n").first { $0.hasPrefix("QUNBO_AUTH_SECRET=") })
        return String(line.dropFirst("QUNBO_AUTH_SECRET=".count))
    }

    static func pid(of id: String, in cluster: LocalCluster) throws -> Int32 {
        let nodes = try String(contentsOf: cluster.dir.appendingPathComponent("nodes"), encoding: .utf8)
        let fields = try #require(
            nodes.split(separator: "\n").map { $0.split(separator: " ") }.first { $0.first == Substring(id) }
        )
        return try #require(Int32(fields[2]))
    }

    /// Whether `pid` is a live process (an exited one not yet reaped, state Z, counts as gone).
    static func isRunning(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        let afterName = stat.split(separator: ")").last ?? ""
        return afterName.split(separator: " ").first != "Z"
    }

    /// The rules file, read as far as the tests need: rule names, expressions, alert blocks.
    struct Rules {
        struct Alert {
            var name: String
            var text: String
            var severity: String? { text.firstMatch(of: /severity: (\w+)/).map { String($0.output.1) } }
            var runbookURL: String? { text.firstMatch(of: /runbook_url: "([^"]+)"/).map { String($0.output.1) } }
        }
        var alerts: [Alert] = []
        var records: Set<String> = []
        var expressions: [String] = []

        static func load() throws -> Rules {
            let lines = try OpsKit.read("prometheus/qunbo-alerts.yml").split(
                separator: "\n",
                omittingEmptySubsequences: false
            )
            var rules = Rules()
            var i = 0
            while i < lines.count {
                let line = lines[i]
                let indent = line.prefix { $0 == " " }.count
                let body = line.dropFirst(indent)
                if let m = body.firstMatch(of: /^- record: (\S+)/) { rules.records.insert(String(m.output.1)) }
                if let m = body.firstMatch(of: /^- alert: (\S+)/) {
                    var text = String(line)
                    var j = i + 1
                    while j < lines.count, lines[j].prefix(while: { $0 == " " }).count > indent || lines[j].isEmpty {
                        text += "\n" + lines[j]
                        j += 1
                    }
                    rules.alerts.append(Alert(name: String(m.output.1), text: text))
                }
                if let m = body.firstMatch(of: /^expr: (.*)$/) {
                    let value = String(m.output.1)
                    if value.hasPrefix("|") || value.hasPrefix(">") {
                        var expr = ""
                        var j = i + 1
                        while j < lines.count, lines[j].prefix(while: { $0 == " " }).count > indent {
                            expr += lines[j] + "\n"
                            j += 1
                        }
                        rules.expressions.append(expr)
                    } else {
                        rules.expressions.append(value)
                    }
                }
                i += 1
            }
            return rules
        }

        var metricNames: Set<String> { expressions.reduce(into: []) { $0.formUnion(OpsKit.metricNames(in: $1)) } }
    }

    struct Dashboard {
        var json: [String: Any]

        static func load() throws -> Dashboard {
            let data = try Data(contentsOf: URL(fileURLWithPath: OpsKit.path("grafana/qunbo-dashboard.json")))
            return Dashboard(json: try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any]))
        }

        var panels: [[String: Any]] { json["panels"] as? [[String: Any]] ?? [] }

        var variables: [String: [String: Any]] {
            let list = (json["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
            return Dictionary(list.compactMap { v in (v["name"] as? String).map { ($0, v) } }) { a, _ in a }
        }

        /// Every PromQL expression: panel queries, annotation queries, variable queries.
        var expressions: [String] {
            var out = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
            let annotations = (json["annotations"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
            out += annotations.compactMap { $0["expr"] as? String }
            return out
        }

        /// Names in the queries, plus those in `label_values(metric, label)` variable queries.
        var metricNames: Set<String> {
            var names = expressions.reduce(into: Set<String>()) { $0.formUnion(OpsKit.metricNames(in: $1)) }
            for variable in variables.values {
                if let query = (variable["query"] as? [String: Any])?["query"] as? String {
                    names.formUnion(OpsKit.metricNames(in: query))
                }
            }
            return names
        }
    }

    struct Unit {
        var text: String

        static func load() throws -> Unit { Unit(text: try OpsKit.read("systemd/qunbo.service")) }

        /// `ExecStop=-/usr/local/bin/qunbo drain --timeout 30` -> `["drain", "--timeout", "30"]`.
        var execStopArguments: [String] {
            let line = text.split(separator: "\n").first { $0.hasPrefix("ExecStop=") } ?? ""
            return Array(line.split(separator: " ").dropFirst().map(String.init))
        }

        var drainTimeoutSeconds: Double {
            let args = execStopArguments
            guard let i = args.firstIndex(of: "--timeout"), i + 1 < args.count else { return 60 }  // the CLI's default
            return Double(args[i + 1]) ?? .infinity
        }

        var timeoutStopSeconds: Double {
            text.firstMatch(of: /\nTimeoutStopSec=(\d+)s\n/).flatMap { Double($0.output.1) } ?? 90  // systemd's default
        }
    }
}
