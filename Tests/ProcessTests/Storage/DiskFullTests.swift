import Foundation
import Testing

/// Three real nodes, each with its own 8 MiB tmpfs as data dir, filled to the last byte under a
/// stream of comments, then freed.
@Suite(
    "Full disks on real processes",
    .serialized,
    .enabled(if: StorageSupport.tmpfsPermitted, "mounting a tmpfs is not permitted here (needs root)")
)
struct DiskFullTests {
    /// With `--min-free-disk 1MiB` the nodes refuse writes once they see the disk full (a log may
    /// fail first, within the second before they look). Not run with `0` (fail-stop logs alone):
    /// a primary whose own log still has room in its last page while its replicas' logs fail
    /// keeps waiting for a majority, and its writers get 503 after `--commit-timeout` instead of
    /// 507 (`writeWithoutDurableReplicasIsAnswered`); the fail-stop path is covered by `AppendLogFaultTests`,
    /// `ReplicationStorageFailureTests` and `ReplicationStorageSimulationTests`.
    @Test(
        "disks filled under writes: 507 while full, nothing acknowledged lost, writes resume when space returns",
        arguments: ["1MiB"]
    )
    func fullDisksUnderWrites(minFree: String) async throws {
        let flags = ["--replicas", "3", "--min-free-disk", minFree]
        try await StorageSupport.withTmpfsCluster(size: 3, tmpfs: "8m", nodeFlags: flags) { cluster in
            let ids = cluster.ids()
            let users = try await GroupUsers.mint(for: cluster, group: "diskfull", memberCount: 18)
            let started = try await ReplicationTests.startSession(cluster, users, at: "n1", title: "disk full")

            // Comments stream in through every node while every node's disk fills up.
            let writer = CommentWriter(
                cluster: cluster,
                users: users,
                nodes: ids,
                clients: 3,
                pause: .milliseconds(40),
                writeDeadline: .seconds(5)
            )
            writer.start()
            try await waitUntil("20 comments acknowledged", timeout: 20) { writer.ackedCount >= 20 }
            for id in ids { try await StorageSupport.fill(StorageSupport.dataDir(cluster, id)) }
            try await waitUntil("writes refused with 507 while the disks are full", timeout: 20) {
                writer.count(status: 507) >= 10
            }
            // Still ready (viewers are served), and says why writes are refused.
            let ready = try await Curl.call("GET", cluster.url(of: "n2") + "/readyz", token: nil)
            #expect(ready.status == 200, "readyz while full: \(ready.status) \(ready.body)")
            if minFree != "0" {
                #expect(ready.body.contains("storage"), "readyz does not report the disk: \(ready.body)")
            }
            let full = await writer.stop()
            let refusedOtherwise = full.unexpected.filter { !$0.contains(": 507 ") && !$0.contains(": 503 ") }
            #expect(refusedOtherwise.isEmpty, "answers other than 2xx, 503 and 507: \(refusedOtherwise.prefix(5))")

            // Space returns: how long until the first write is taken again.
            for id in ids { StorageSupport.free(StorageSupport.dataDir(cluster, id)) }
            let freedAt = ContinuousClock.now
            var probes = CommentWriter.Report()
            var firstAccepted: Duration?
            var n = 0
            while firstAccepted == nil, ContinuousClock.now < freedAt + .seconds(30) {
                let id = "probe-\(n)"
                let answer = try? await users.call(
                    cluster,
                    at: ids[n % ids.count],
                    "POST",
                    "/live/comments",
                    as: users.members[n % users.members.count],
                    json: #"{"text":"\#(id)","id":"\#(id)"}"#,
                    timeout: 5
                )
                n += 1
                if let answer, (200..<300).contains(answer.status),
                    let seq = (LiveFixture.object(answer.body)["seq"] as? NSNumber)?.uint64Value
                {
                    firstAccepted = ContinuousClock.now - freedAt
                    probes.acked[id] = seq
                } else {
                    probes.unacknowledged.append(id)
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            let resumed = try #require(firstAccepted, "no write accepted within 30 s of the disks being freed")
            print(
                "storage (--min-free-disk \(minFree)): time from free space returning to the first accepted write: \(resumed) (\(n) tries)"
            )

            // Every node sees the space back (each measures on its own, at most a second late).
            try await waitUntil("every node to stop reporting low disk space", timeout: 10) {
                var clear = true
                for id in ids {
                    let ready = try await Curl.call("GET", cluster.url(of: id) + "/readyz", token: nil)
                    clear = clear && ready.status == 200 && !ready.body.contains("storage")
                }
                return clear
            }
            // Writes go on as before (a 507 from a copy whose log retries a moment later is retried).
            let after = CommentWriter(
                cluster: cluster,
                users: users,
                nodes: ids,
                clients: 3,
                pause: .milliseconds(40),
                alsoRetried: [507]
            )
            after.start()
            try await waitUntil("20 comments acknowledged after the disks were freed", timeout: 30) {
                after.ackedCount >= 20
            }
            let resumedReport = await after.stop()
            #expect(resumedReport.unexpected.isEmpty, "after freeing: \(resumedReport.unexpected.prefix(5))")

            // Every replica holds every acknowledged comment, in one order, and serves the same list.
            let report = StorageSupport.merge(StorageSupport.merge(full, probes), resumedReport)
            let (primary, members) = try await cluster.waitForConvergence(
                of: started.id,
                among: ids,
                replicas: 3,
                timeout: 30
            )
            let lastSeq = try await ReplicationTests.lastEventSeq(cluster, users, at: primary)
            let logs = try await ReplicaLogs.read(cluster, users, from: members, upTo: lastSeq)
            logs.expectOneTotalOrder()
            logs.expectComments(of: report)
            let reference = try await StorageSupport.comments(cluster, users, at: primary)
            #expect(reference.count >= report.acked.count)
            for id in members where id != primary {
                let comments = try await StorageSupport.comments(cluster, users, at: id)
                #expect(
                    comments.map(\.seq) == reference.map(\.seq) && comments.map(\.text) == reference.map(\.text),
                    "\(id) serves other comments than \(primary)"
                )
            }
            let seqByText = Dictionary(reference.map { ($0.text, $0.seq) }, uniquingKeysWith: { a, _ in a })
            for (text, _) in report.acked {
                #expect(seqByText[text] != nil, "acknowledged comment \(text) is gone")
            }

            // The refusals and the free space are in the metrics.
            var refusals = 0.0
            var logFailures = 0.0
            for id in ids {
                let metrics = try await Curl.call("GET", cluster.url(of: id) + "/metrics", token: nil)
                #expect(metrics.body.contains("qunbo_disk_free_bytes"), "\(id) has no disk gauge")
                for line in metrics.body.split(separator: "\n") {
                    let value = Double(line.split(separator: " ").last ?? "0") ?? 0
                    if line.hasPrefix("qunbo_storage_refusals_total") { refusals += value }
                    if line.hasPrefix("qunbo_storage_log_failures_total") { logFailures += value }
                }
            }
            #expect(refusals > 0, "no refusal counted")
            // Whether a log hit the full disk before --min-free-disk refused (timing decides).
            print(
                "storage (--min-free-disk \(minFree)): \(Int(refusals)) refusals, \(Int(logFailures)) fail-stopped logs"
            )
            if minFree == "0" { #expect(logFailures > 0, "no log failed: the fail-stop path was not exercised") }
        }
    }
}
