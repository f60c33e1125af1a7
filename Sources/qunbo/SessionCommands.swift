import ArgumentParser
import Foundation
import Node

/// `qunbo sessions`: the sessions one node holds, with role and replication lag.
struct SessionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions",
        abstract: "List the sessions a node holds, with role, epoch and replication lag."
    )
    @OptionGroup var remote: RemoteOptions
    @Flag(help: "Include ended sessions.") var all = false

    func run() async throws {
        let data = try await AdminClient(options: remote).call("GET", "/admin/v1/sessions")
        if remote.json { return print(String(decoding: data, as: UTF8.self)) }
        let rows = try JSONDecoder().decode([AdminAPI.SessionJSON].self, from: data).filter { all || !$0.ended }
        printTable(
            [
                "GROUP", "SESSION", "ROLE", "EPOCH", "PRIMARY", "REPLICAS", "LAST SEQ", "COMMITTED", "LAG (entries)",
                "VIEWERS", "RELAYS",
            ],
            rows.map { r in
                [
                    r.group, r.session, r.role + (r.ended ? " (ended)" : ""), String(r.epoch), r.primary ?? "-",
                    r.members.joined(separator: ","), String(r.lastSeq), String(r.committedSeq), String(r.lagSeq),
                    r.viewers.map(String.init) ?? "-",
                    // A relay names the copy it pulls from; a replica the relays it feeds.
                    r.upstream.map { "from \($0)" }
                        ?? ((r.relays ?? []).isEmpty ? "-" : r.relays!.joined(separator: ",")),
                ]
            }
        )
        if rows.isEmpty { print("(no sessions)") }
    }
}

/// `qunbo drain`: hands a node's sessions to other replicas, showing progress until done.
struct DrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain",
        abstract: "Hand every session of a node to other replicas (then optionally leave the cluster)."
    )
    @OptionGroup var remote: RemoteOptions
    @Flag(help: "Leave the cluster and exit once drained (POST /admin/v1/leave).") var leave = false
    @Option(help: "Give up waiting after this many seconds (the node keeps draining).") var timeout: Double = 60

    func run() async throws {
        let client = AdminClient(options: remote)
        _ = try await client.call("POST", leave ? "/admin/v1/leave" : "/admin/v1/drain")
        print("draining \(remote.baseURL)\(leave ? " (then leaving)" : "")")
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            let data: Data
            do {
                data = try await client.call("GET", "/admin/v1/sessions")
            } catch {
                // A leaving node exits once drained: an unreachable node means it is gone.
                if leave {
                    print("node left the cluster")
                    return
                }
                throw error
            }
            let rows = try JSONDecoder().decode([AdminAPI.SessionJSON].self, from: data).filter { !$0.ended }
            let leading = rows.filter { $0.role == "primary" }.count
            let following = rows.count - leading
            let line = "primaries left: \(leading), replicas left: \(following)"
            if line != last {
                print(line)
                last = line
            }
            if leading == 0 && (following == 0 || !leave) {
                print("drained: no primary left on this node")
                if !leave { return }
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        throw CLIError("still draining after \(Int(timeout)) s (the node goes on; check `qunbo sessions`)")
    }
}
