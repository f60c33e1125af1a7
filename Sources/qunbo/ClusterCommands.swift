import ArgumentParser
import Foundation
import Node

/// `qunbo members`: the cluster as one node sees it.
struct MembersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "members", abstract: "List cluster members.")
    @OptionGroup var remote: RemoteOptions

    func run() async throws {
        let data = try await AdminClient(options: remote).call("GET", "/admin/v1/members")
        if remote.json {
            print(String(decoding: data, as: UTF8.self))
            return
        }
        let answer = try JSONDecoder().decode(AdminAPI.MembersJSON.self, from: data)
        printTable(
            ["ID", "ADDRESS", "ZONE", "STATE", "INCARNATION", "RTT"],
            answer.members.map { m in
                [
                    m.id + (m.id == answer.`self` ? " *" : ""), m.address, m.zone ?? "-", m.state,
                    String(m.incarnation),
                    m.rttMs.map { String(format: "%.2f ms", $0) } ?? "-",
                ]
            }
        )
    }
}

/// `qunbo ring [--group G]`: placement shares, or one group's replicas.
struct RingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ring",
        abstract: "Show ring shares, or the replicas of one group."
    )
    @OptionGroup var remote: RemoteOptions
    @Option(help: "Show the preference list of this group.") var group: String?

    func run() async throws {
        let client = AdminClient(options: remote)
        if let group {
            let encoded = group.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? group
            let data = try await client.call("GET", "/admin/v1/ring?group=\(encoded)")
            if remote.json { return print(String(decoding: data, as: UTF8.self)) }
            let answer = try JSONDecoder().decode(AdminAPI.GroupRingJSON.self, from: data)
            printTable(
                ["GROUP", "REPLICAS (preference order)", "PRIMARY"],
                [[answer.group, answer.replicas.joined(separator: ", "), answer.primary ?? "-"]]
            )
            return
        }
        let data = try await client.call("GET", "/admin/v1/ring")
        if remote.json { return print(String(decoding: data, as: UTF8.self)) }
        let answer = try JSONDecoder().decode(AdminAPI.RingJSON.self, from: data)
        printTable(["NODE", "SHARE"], answer.nodes.map { [$0.id, String(format: "%.1f%%", $0.share * 100)] })
        print("(\(answer.vnodes) virtual nodes per node)")
    }
}
