import Foundation
import Testing

/// Scheduled lives and webhooks (issue 16, docs/API.md "Webhooks") on real node processes, with
/// the reference receiver (`qunbo webhooks listen`) as the host app: at least once through a
/// kill -9 of the primary, reminders on time across a kill of the group log's primary, a
/// receiver that fails for 30 s gets everything in order, a forged signature is refused.
@Suite("Webhooks on real processes", .serialized)
struct WebhookTests {
    static let secret = "whsec-test-0123456789abcdef0123456789abcdef"

    @Test(
        "a live started and its primary killed at once: live.started arrives (one id, one body); reminders within 2 s of their due times across a kill of the group log's primary; a receiver failing for 30 s gets every webhook, in each log's order"
    )
    func webhooksThroughKills() async throws {
        let healthyPort = LocalCluster.freePortRange(count: 2)
        let healthy = try ListeningReceiver(port: healthyPort, secret: Self.secret)
        let failing = try ListeningReceiver(port: healthyPort + 1, secret: Self.secret, failFor: 30)
        defer {
            healthy.process.stop()
            failing.process.stop()
        }
        try await healthy.ready()
        try await failing.ready()
        let flags = [
            "--replicas", "3", "--ingest-grace", "10m", "--reminder-lead", "10s", "--webhook-max-backoff", "3s",
            "--webhook-secret", Self.secret, "--webhook-url", healthy.url, "--webhook-url", failing.url,
        ]
        try await LocalCluster.with(size: 5, nodeFlags: flags) { cluster in
            let ids = cluster.ids()
            let users = try await GroupUsers.mint(for: cluster, group: "hooks", memberCount: 3)

            // A schedule 20 s ahead: lead reminder due in 10 s, the start one in 20 s.
            let startsAt = Date().addingTimeInterval(20).timeIntervalSince1970.rounded(.up)
            let scheduled = try await users.call(
                cluster,
                at: "n2",
                "POST",
                "/schedule",
                as: "u0",
                json: #"{"id":"class-1","title":"Physics","startsAt":"\#(Self.rfc3339(startsAt))"}"#
            )
            try #require(scheduled.status == 201, "schedule: \(scheduled.status) \(scheduled.body)")

            // The live starts and its primary dies at once.
            let started = try await ReplicationTests.startSession(
                cluster,
                users,
                at: "n1",
                title: "hooked",
                record: true
            )
            try await cluster.kill(started.primary)
            let liveStarted = "\(started.id)-1"
            try await waitUntil("live.started \(liveStarted) at the receiver", timeout: 30) {
                healthy.deliveries.contains { $0.id == liveStarted }
            }
            // The node comes back: the group log's primary can be killed later with a majority left.
            try await cluster.restart(started.primary)

            // Tips and a red packet on the new primary, through any node.
            for (i, node) in ids.filter({ $0 != started.primary }).prefix(3).enumerated() {
                let tip = try await users.call(
                    cluster,
                    at: node,
                    "POST",
                    "/live/tips",
                    as: "u\(i)",
                    json: #"{"amount":\#(100 + i),"currency":"CNY","id":"tip-\#(i)"}"#
                )
                #expect(tip.status == 201, "tip at \(node): \(tip.status) \(tip.body)")
            }
            let packet = try await users.call(
                cluster,
                at: "n3",
                "POST",
                "/live/redpackets",
                as: "u1",
                json: #"{"id":"rp1","total":500,"currency":"CNY","shares":5}"#
            )
            #expect(packet.status == 201, "red packet: \(packet.status) \(packet.body)")

            // The lead reminder, then a kill of the group log's primary, then the start one.
            let leadDue = startsAt - 10
            try await waitUntil("the lead reminder", timeout: max(1, leadDue - Date().timeIntervalSince1970) + 15) {
                healthy.deliveries.contains { $0.type == "live.reminder" && $0.reminder == "lead" }
            }
            let lead = try #require(healthy.firstArrival { $0.type == "live.reminder" && $0.reminder == "lead" })
            #expect(
                lead - leadDue <= 2 && lead - leadDue >= -0.5,
                "lead reminder \(lead - leadDue) s from its due time"
            )
            let logSessions = ids.compactMap { id in (try? cluster.sessions(on: id))?.first { $0.group == "~hooks" } }
            let logSession = try #require(logSessions.first?.session, "the group log's session")
            let (logPrimary, _) = try #require(cluster.primary(of: logSession, among: ids))
            try await cluster.kill(logPrimary)
            try await waitUntil("the start reminder", timeout: max(1, startsAt - Date().timeIntervalSince1970) + 15) {
                healthy.deliveries.contains { $0.type == "live.reminder" && $0.reminder == "start" }
            }
            let start = try #require(healthy.firstArrival { $0.type == "live.reminder" && $0.reminder == "start" })
            #expect(
                start - startsAt <= 2 && start - startsAt >= -0.5,
                "start reminder \(start - startsAt) s from its due time"
            )

            // The end: live.ended and replay.ready.
            let alive = ids.filter { $0 != logPrimary }
            let ended = try await users.call(cluster, at: alive[0], "DELETE", "/live", as: "host")
            #expect(ended.status == 200, "end: \(ended.status) \(ended.body)")

            let expected: Set<String> = [
                "live.scheduled", "live.reminder", "live.started", "tip", "redpacket.created", "live.ended",
                "replay.ready",
            ]
            try await waitUntil("every kind of webhook at the healthy receiver", timeout: 30) {
                expected.isSubset(of: Set(healthy.deliveries.map(\.type)))
            }
            // The failing receiver answers 500 for its first 30 s, then gets all of it.
            let wanted = Set(healthy.deliveries.map(\.id))
            try await waitUntil("the failing receiver to catch up", timeout: 60) {
                wanted.isSubset(of: Set(failing.deliveries.map(\.id)))
            }
            for receiver in [healthy, failing] {
                let all = receiver.deliveries
                // One body per id, however many times it came.
                for (id, bodies) in Dictionary(grouping: all, by: \.id) where Set(bodies.map(\.body)).count > 1 {
                    Issue.record("\(receiver.url): \(id) came with \(Set(bodies.map(\.body)).count) bodies")
                }
                // First arrivals in each log's order: a log's webhooks are `<session>-<seq>[-replay]`.
                var firsts: [String] = []
                for delivery in all where !firsts.contains(delivery.id) { firsts.append(delivery.id) }
                for (session, ids) in Dictionary(grouping: firsts, by: { WebhookDelivery.session(of: $0) }) {
                    let order = ids.map(WebhookDelivery.position(of:))
                    #expect(order == order.sorted(), "\(receiver.url): log \(session) first arrivals \(ids)")
                }
                #expect(all.filter { $0.id == liveStarted }.count >= 1)
            }
            #expect(failing.rejectedOrFailed, "the failing receiver answered no 500 (did --fail-for work?)")
            let tips = healthy.deliveries.filter { $0.type == "tip" }.map(\.id)
            #expect(Set(tips).count == 3, "tips delivered: \(tips)")
        }
    }

    @Test("the reference receiver refuses a forged or tampered delivery and accepts a signed one")
    func forgedSignatureRefused() async throws {
        let port = LocalCluster.freePortRange(count: 1)
        let receiver = try ListeningReceiver(port: port, secret: Self.secret)
        defer { receiver.process.stop() }
        try await receiver.ready()
        let body = #"{"id":"x-1","type":"tip","group":"g","session":"x","at":"2026-12-03T00:00:00Z","data":{}}"#
        let now = Int(Date().timeIntervalSince1970)
        let forged = try await Tools.run(
            "curl",
            [
                "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: application/json", "-H",
                "Qunbo-Signature: t=\(now),v1=\(String(repeating: "ab", count: 32))", "--data-binary", body,
                receiver.url,
            ]
        )
        #expect(forged.stdout == "400", "forged: \(forged.stdout)")
        let mac = try await Tools.run(
            "sh",
            [
                "-c", "printf '%s' \"$0\" | openssl dgst -sha256 -hmac \"$1\" -r | cut -d' ' -f1", "\(now).\(body)",
                Self.secret,
            ]
        ).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let tampered = try await Tools.run(
            "curl",
            [
                "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Qunbo-Signature: t=\(now),v1=\(mac)",
                "--data-binary", body.replacingOccurrences(of: "tip", with: "TIP"), receiver.url,
            ]
        )
        #expect(tampered.stdout == "400", "tampered: \(tampered.stdout)")
        let signed = try await Tools.run(
            "curl",
            [
                "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Qunbo-Signature: t=\(now),v1=\(mac)",
                "--data-binary", body, receiver.url,
            ]
        )
        #expect(signed.stdout == "200", "signed: \(signed.stdout)")
        try await waitUntil("the signed delivery printed") { receiver.deliveries.map(\.id) == ["x-1"] }
        #expect(
            receiver.process.errors.components(separatedBy: "rejected:").count - 1 == 2,
            "\(receiver.process.errors)"
        )
    }

    static func rfc3339(_ seconds: Double) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date(timeIntervalSince1970: seconds))
    }
}

/// One delivery the reference receiver printed.
struct WebhookDelivery: Equatable {
    var id: String
    var type: String
    var reminder: String?
    var body: String

    /// The log a webhook id names (`<session>-<seq>[-replay]`: the session id has one `-`).
    static func session(of id: String) -> String { id.split(separator: "-").prefix(2).joined(separator: "-") }

    /// Where in its log a webhook comes: its event seq, `replay.ready` just after `live.ended`.
    static func position(of id: String) -> Double {
        let parts = id.split(separator: "-")
        return Double(parts.count > 2 ? String(parts[2]) : "0").map { $0 + (parts.count > 3 ? 0.5 : 0) } ?? 0
    }
}

/// `qunbo webhooks listen` as a background process, its stdout read as deliveries with the
/// time each line was first seen.
final class ListeningReceiver: @unchecked Sendable {
    let process: BackgroundTool
    let url: String
    private let seen = NSLock()
    private var arrivals: [String: Double] = [:]

    init(port: Int, secret: String, failFor: Int? = nil) throws {
        url = "http://127.0.0.1:\(port)/hooks"
        process = try BackgroundTool(
            NodeProcess.binary,
            ["webhooks", "listen", "--secret", secret, "--listen", "127.0.0.1:\(port)"]
                + (failFor.map { ["--fail-for", "\($0)"] } ?? [])
        )
        Task { [weak self] in
            while let self, self.process.isRunning {
                self.stamp()
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    func ready() async throws {
        try await waitUntil("the receiver listening", timeout: 10) { self.process.errors.contains("listening on") }
    }

    /// Every delivery printed so far, in order.
    var deliveries: [WebhookDelivery] {
        process.output.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let id = object["id"] as? String, let type = object["type"] as? String
            else { return nil }
            let data = object["data"] as? [String: Any]
            return WebhookDelivery(id: id, type: type, reminder: data?["reminder"] as? String, body: String(line))
        }
    }

    /// Whether the receiver answered anything but 200 (its `--fail-for` 500s are logged).
    var rejectedOrFailed: Bool { process.errors.contains("answered 500") }

    /// Records when each delivery line was first seen (polled every 20 ms).
    private func stamp() {
        let now = Date().timeIntervalSince1970
        let lines = deliveries
        seen.lock()
        for delivery in lines where arrivals[delivery.id] == nil { arrivals[delivery.id] = now }
        seen.unlock()
    }

    /// When the first delivery matching `predicate` was first seen (Unix seconds).
    func firstArrival(_ predicate: (WebhookDelivery) -> Bool) -> Double? {
        stamp()
        guard let id = deliveries.first(where: predicate)?.id else { return nil }
        seen.lock()
        defer { seen.unlock() }
        return arrivals[id]
    }
}
