import Foundation
import Testing

/// Node-to-node TLS: a cluster started with `cluster/up --tls` (a throwaway CA made with
/// openssl, one certificate per node, `--peer-ca`, mutual TLS) forms over https and fails over
/// like a clear-text one.
@Suite("Peers over TLS", .serialized)
struct PeerTLSTests {
    @Test("a 3-node TLS cluster forms; kill -9 of the primary under writes loses no acknowledged comment")
    func tlsClusterFailover() async throws {
        try await LocalCluster.with(size: 3, nodeFlags: ["--replicas", "3"], tls: true) { cluster in
            let ids = cluster.ids()
            // Formed: every node sees every other alive, each advertising https.
            try await waitUntil("3 TLS nodes to see each other alive", timeout: 20) {
                try ids.allSatisfy { id in
                    try cluster.memberStates(seenBy: id).values.filter { $0 == "alive" }.count == 3
                }
            }
            let members = try cluster.admin("n1", "/admin/v1/members") as? [String: Any]
            let addresses = (members?["members"] as? [[String: Any]] ?? []).compactMap { $0["address"] as? String }
            #expect(addresses.count == 3 && addresses.allSatisfy { $0.hasPrefix("https://") }, "\(addresses)")
            // Clear text is not spoken on a TLS port.
            let plain = try await Tools.run(
                "curl",
                [
                    "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                    "http://127.0.0.1:\(cluster.port(of: "n1"))/readyz",
                ]
            )
            #expect(plain.stdout != "200")

            let users = try await GroupUsers.mint(for: cluster, group: "tls", memberCount: 8)
            let started = try await ReplicationTests.startSession(cluster, users, at: "n1", title: "tls")
            let writer = CommentWriter(cluster: cluster, users: users, nodes: ids)
            writer.start()
            try await waitUntil("20 comments acknowledged before the kill", timeout: 20) { writer.ackedCount >= 20 }
            let (victim, victimCopy) = try #require(cluster.primary(of: started.id, among: ids))
            try await cluster.kill(victim)
            let ackedAtKill = writer.ackedCount
            let survivors = ids.filter { $0 != victim }
            let promoted = try await cluster.waitForPrimary(
                of: started.id,
                among: survivors,
                above: victimCopy.epoch,
                timeout: 15
            )
            try await waitUntil("20 more comments acknowledged after the kill", timeout: 30) {
                writer.ackedCount >= ackedAtKill + 20
            }
            let report = await writer.stop()
            #expect(report.unexpected.isEmpty, "answers no retry can fix: \(report.unexpected.prefix(10))")

            // Two survivors of three: both hold the whole committed log, in one epoch (whether
            // the dead node is still listed as a member is the replica-set policy's business).
            var converged: (String, [String])?
            try await waitUntil("both survivors to hold the same committed log", timeout: 15) {
                let copies = cluster.holders(of: started.id, among: survivors)
                guard copies.count == survivors.count,
                    let (node, lead) = copies.first(where: { $0.value.role == "primary" }),
                    copies.values.allSatisfy({
                        $0.epoch == lead.epoch && $0.lastSeq == lead.lastSeq && $0.committedSeq == lead.lastSeq
                    })
                else { return false }
                converged = (node, survivors)
                return true
            }
            let (primary, holders) = try #require(converged)
            let lastSeq = try await ReplicationTests.lastEventSeq(cluster, users, at: primary)
            let maxAcked = report.acked.values.max() ?? 0
            #expect(lastSeq >= maxAcked, "the replicas' last seq \(lastSeq) is below an acknowledged seq \(maxAcked)")
            let logs = try await ReplicaLogs.read(cluster, users, from: holders, upTo: lastSeq)
            logs.expectOneTotalOrder()
            logs.expectComments(of: report)
            print(
                "tlsClusterFailover: \(report.acked.count) acknowledged, \(victim) at epoch \(victimCopy.epoch) -> "
                    + "\(promoted.node) at epoch \(promoted.copy.epoch), holders \(holders), lastSeq \(lastSeq)"
            )
        }
    }
}
