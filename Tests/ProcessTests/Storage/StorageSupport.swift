import Foundation
import Testing

/// Disks for the storage tests: a small tmpfs per node as its data dir (`mount` needs root; CI
/// runs as root), a filler file that fills it, and reading a session's comments at each node.
enum StorageSupport {
    /// Whether this process may mount a tmpfs (probed once with a 1 MiB one).
    static let tmpfsPermitted: Bool = {
        guard getuid() == 0, Tools.find("mount") != nil, Tools.find("umount") != nil else { return false }
        let probe = FileManager.default.temporaryDirectory.appendingPathComponent("qunbo-tmpfs-probe-\(UUID())").path
        guard (try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)) != nil else {
            return false
        }
        defer { try? FileManager.default.removeItem(atPath: probe) }
        guard run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe]) == 0 else { return false }
        _ = run("umount", [probe])
        return true
    }()

    @discardableResult
    static func run(_ tool: String, _ args: [String]) -> Int32 {
        guard let path = Tools.find(tool) else { return -1 }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = args
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// The data dir of node `id` of `cluster` (`cluster/up` puts it there).
    static func dataDir(_ cluster: LocalCluster, _ id: String) -> String {
        cluster.dir.appendingPathComponent("\(id)/data").path
    }

    /// Runs `body` on a cluster whose every node has its own tmpfs of `size` as its data dir;
    /// always stops the cluster and unmounts.
    static func withTmpfsCluster(
        size: Int,
        tmpfs: String,
        nodeFlags: [String],
        _ body: (LocalCluster) async throws -> Void
    ) async throws {
        let cluster = LocalCluster(size: size, nodeFlags: nodeFlags)
        var mounted: [String] = []
        func cleanUp() async {
            await cluster.down()
            for dir in mounted { run("umount", ["-l", dir]) }
            try? FileManager.default.removeItem(at: cluster.dir)
        }
        do {
            for id in cluster.ids() {
                let dir = dataDir(cluster, id)
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                try #require(run("mount", ["-t", "tmpfs", "-o", "size=\(tmpfs)", "tmpfs", dir]) == 0, "mount \(dir)")
                mounted.append(dir)
            }
            try await cluster.up()
            try await body(cluster)
        } catch {
            await cleanUp()
            throw error
        }
        await cleanUp()
    }

    /// Fills the file system of `dir` with `dir/filler` until it is full.
    static func fill(_ dir: String) async throws {
        _ = try await Tools.run("/bin/sh", ["-c", "dd if=/dev/zero of='\(dir)/filler' bs=64k 2>/dev/null; exit 0"])
    }

    static func free(_ dir: String) {
        try? FileManager.default.removeItem(atPath: dir + "/filler")
    }

    /// Every comment of the group's session as node `id` serves it: (seq, text), in order.
    static func comments(
        _ cluster: LocalCluster,
        _ users: GroupUsers,
        at id: String
    ) async throws -> [(seq: UInt64, text: String)] {
        var all: [(UInt64, String)] = []
        var after: UInt64 = 0
        while true {
            let answer = try await users.call(
                cluster,
                at: id,
                "GET",
                "/live/comments?after=\(after)&limit=500",
                as: "u0"
            )
            guard answer.status == 200 else {
                throw CommentsUnreadable(node: id, status: answer.status, body: answer.body)
            }
            let page = (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8))) as? [[String: Any]] ?? []
            for comment in page {
                let seq = (comment["seq"] as? NSNumber)?.uint64Value ?? 0
                all.append((seq, comment["text"] as? String ?? ""))
                after = max(after, seq)
            }
            if page.count < 500 { return all }
        }
    }

    struct CommentsUnreadable: Error {
        var node: String
        var status: Int
        var body: String
    }

    /// `report` with `other` added (acknowledged and unacknowledged comments of both).
    static func merge(_ report: CommentWriter.Report, _ other: CommentWriter.Report) -> CommentWriter.Report {
        var merged = report
        merged.acked.merge(other.acked) { a, _ in a }
        merged.unacknowledged += other.unacknowledged
        merged.unexpected += other.unexpected
        for (status, count) in other.statuses { merged.statuses[status, default: 0] += count }
        return merged
    }
}
