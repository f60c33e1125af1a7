import Foundation
import Testing

/// Whether this machine lets a test make network namespaces (root, and the kernel allows it).
private let namespacesPermitted: Bool = {
    guard getuid() == 0, Tools.find("ip") != nil else { return false }
    let probe = Process()
    probe.executableURL = URL(fileURLWithPath: LocalCluster.root.appendingPathComponent("cluster/zones").path)
    probe.arguments = ["check"]
    probe.environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"]
    guard (try? probe.run()) != nil else { return false }
    probe.waitUntilExit()
    return probe.terminationStatus == 0
}()

/// Three zones with real distance (`cluster/zones`): six nodes, each in its own network
/// namespace with its own address, round trips +2 ms inside a zone, +40 ms between zones A-B and
/// B-C, +120 ms between A and C, replicas 2 (so some sessions have no replica in zone A).
@Suite(
    "Nearest-replica routing across zones",
    .serialized,
    .enabled(if: namespacesPermitted, "network namespaces are not permitted here (needs root and ip netns)")
)
struct ZoneRoutingTests {
    /// Configured round trip between the zones of two nodes (n1, n4 in zA; n2, n5 in zB; n3, n6 in zC).
    static func configuredRTT(_ a: String, _ b: String) -> Double {
        let zone = { (id: String) in (Int(id.dropFirst())! - 1) % 3 }
        let (za, zb) = (zone(a), zone(b))
        if za == zb { return 2 }
        return Set([za, zb]) == [0, 2] ? 120 : 40
    }

    /// The stated error of the RTT estimates: 10 ms plus 25% of the configured round trip.
    static func tolerance(_ rtt: Double) -> Double { 10 + 0.25 * rtt }

    /// The largest processing offset accepted: an estimate also carries both nodes' own time to
    /// answer a probe, a few ms in a debug build on a quiet machine but tens of ms when six debug
    /// nodes share two busy cores (a CI run measured +26 ms on every peer alike).
    static let maxOffset = 60.0

    /// Whether `from`'s estimates match the configured delays. The offset every estimate shares
    /// (processing time, read from the nearest peer's estimate minus its configured round trip) is
    /// bounded by `maxOffset`; what remains must be within `tolerance` of the configured delay,
    /// so the zones' distances are checked exactly while the machine's load is not.
    static func estimatesMatch(_ estimates: [String: Double], from: String, peers: [String]) -> Bool {
        guard peers.allSatisfy({ estimates[$0] != nil }),
            let nearest = peers.min(by: { configuredRTT(from, $0) < configuredRTT(from, $1) })
        else { return false }
        let offset = max(0, estimates[nearest]! - configuredRTT(from, nearest))
        guard offset <= maxOffset else { return false }
        return peers.allSatisfy { id in
            let configured = configuredRTT(from, id)
            return abs(estimates[id]! - offset - configured) <= tolerance(configured)
        }
    }

    @Test("estimates match the configured delays; viewers go to the replica in their zone, else the nearest")
    func routing() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qunbo-zones-\(UUID())")
        var env = ProcessInfo.processInfo.environment
        env["QUNBO_BIN"] = NodeProcess.binary
        env["QUNBO_CLUSTER_DIR"] = dir.path
        let zones = LocalCluster.root.appendingPathComponent("cluster/zones").path
        defer { _ = try? Process.run(URL(fileURLWithPath: zones), arguments: ["down", "--wipe"]).waitUntilExit() }
        let up = try await Tools.run(
            zones,
            ["up", "--intra-ms", "2", "--inter-ms", "40", "--delay", "zA-zC=120", "--", "--replicas", "2"],
            timeout: 120,
            environment: env
        )
        #expect(up.status == 0, "cluster/zones up failed: \(up.stderr)")
        guard up.status == 0 else { return }
        let secret =
            try String(contentsOf: dir.appendingPathComponent("env"), encoding: .utf8)
            .split(separator: "\n").first { $0.hasPrefix("QUNBO_AUTH_SECRET=") }.map { String($0.dropFirst(18)) } ?? ""
        let clusterSecret =
            try String(contentsOf: dir.appendingPathComponent("env"), encoding: .utf8)
            .split(separator: "\n").first { $0.hasPrefix("QUNBO_CLUSTER_SECRET=") }.map { String($0.dropFirst(21)) }
            ?? ""
        // Operator tokens are signed with the cluster secret (`token --admin --secret` takes it).
        let admin = try await Self.token(clusterSecret, ["--user", "ops", "--admin"])
        let url = { (id: String) in "http://10.77.0.\(10 + Int(id.dropFirst())!):7000" }
        let nodes = (1...6).map { "n\($0)" }

        // 1. RTT estimates from n1 (zone A) converge to the configured round trips.
        var last: [String: Double] = [:]
        do {
            try await waitUntil("n1's RTT estimates within the stated error of the configured delays", timeout: 45) {
                let json = try await Self.getJSON(url("n1") + "/admin/v1/members", token: admin) as? [String: Any]
                var estimates: [String: Double] = [:]
                for m in json?["members"] as? [[String: Any]] ?? [] {
                    if let id = m["id"] as? String, let rtt = m["rttMs"] as? Double { estimates[id] = rtt }
                }
                last = estimates
                return Self.estimatesMatch(estimates, from: "n1", peers: Array(nodes.dropFirst()))
            }
        } catch {
            Issue.record("RTT estimates from n1 at the deadline: \(last.sorted { $0.key < $1.key })")
            throw error
        }
        print("RTT estimates from n1 (configured 2/40/120 ms): \(last.sorted { $0.key < $1.key })")

        // 2. Two groups: one with a replica in zone A, one with replicas only in zones B and C.
        var inZoneA: (group: String, replicas: [String])?
        var notInZoneA: (group: String, replicas: [String])?
        for i in 0..<200 where inZoneA == nil || notInZoneA == nil {
            let group = "zg\(i)"
            let json =
                try await Self.getJSON(url("n1") + "/admin/v1/ring?group=\(group)", token: admin) as? [String: Any]
            let replicas = json?["replicas"] as? [String] ?? []
            let zoneA = replicas.filter { ["n1", "n4"].contains($0) }
            if zoneA.count == 1, inZoneA == nil { inZoneA = (group, replicas) }
            if zoneA.isEmpty, notInZoneA == nil { notInZoneA = (group, replicas) }
        }
        let a = try #require(inZoneA)
        let bc = try #require(notInZoneA)
        let host = try await Self.token(
            secret,
            ["--user", "host", "--group", "\(a.group):owner", "--group", "\(bc.group):owner"]
        )
        for group in [a.group, bc.group] {
            let started = try await Tools.run(
                "curl",
                [
                    "-s", "-o", "/dev/null", "-w", "%{http_code}", "-XPOST", "-H", "Authorization: Bearer \(host)",
                    url("n2") + "/v1/groups/\(group)/live", "-d", "{}",
                ]
            )
            #expect(started.stdout == "201", "starting \(group): \(started.stdout)")
        }

        // 3. A viewer entering at the zone-A node that is not a replica goes to the zone-A replica.
        let replicaA = a.replicas.first { ["n1", "n4"].contains($0) }!
        let entryA = replicaA == "n1" ? "n4" : "n1"
        let (statusA, replicaHeaderA, locationA) = try await Self.redirect(
            url(entryA) + "/v1/groups/\(a.group)/live/events",
            token: host
        )
        #expect(statusA == 307)
        #expect(replicaHeaderA == replicaA, "replicas \(a.replicas), entered at \(entryA)")
        #expect(locationA.hasPrefix(url(replicaA)))

        // 4. With no replica in zone A, the viewer goes to the lowest-RTT one: zone B (40 ms), not C (120 ms).
        let replicaB = bc.replicas.first { ["n2", "n5"].contains($0) }
        let (statusB, replicaHeaderB, _) = try await Self.redirect(
            url("n1") + "/v1/groups/\(bc.group)/live/events",
            token: host
        )
        #expect(statusB == 307)
        if let replicaB {
            #expect(replicaHeaderB == replicaB, "replicas \(bc.replicas): the zone-B one is nearer to zone A")
        } else {
            #expect(bc.replicas.contains(replicaHeaderB), "replicas \(bc.replicas)")
        }
    }

    static func token(_ secret: String, _ args: [String]) async throws -> String {
        try await Tools.run(NodeProcess.binary, ["token", "--secret", secret] + args).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func getJSON(_ url: String, token: String) async throws -> Any {
        let result = try await Tools.run("curl", ["-sf", "-H", "Authorization: Bearer \(token)", url])
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    }

    /// Status, `Qunbo-Replica` and `Location` of a GET that is not followed.
    static func redirect(_ url: String, token: String) async throws -> (Int, String, String) {
        let result = try await Tools.run(
            "curl",
            ["-s", "-o", "/dev/null", "-D", "-", "--max-time", "5", "-H", "Authorization: Bearer \(token)", url]
        )
        var status = 0
        var replica = ""
        var location = ""
        for line in result.stdout.split(separator: "\r\n") {
            if line.hasPrefix("HTTP/") { status = Int(line.split(separator: " ")[1]) ?? 0 }
            let lower = line.lowercased()
            if lower.hasPrefix("qunbo-replica:") { replica = line.dropFirst(14).trimmingCharacters(in: .whitespaces) }
            if lower.hasPrefix("location:") { location = line.dropFirst(9).trimmingCharacters(in: .whitespaces) }
        }
        return (status, replica, location)
    }
}
