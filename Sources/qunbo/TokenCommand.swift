import ArgumentParser
import Foundation
import Live
import Node

/// `qunbo token`: mint a client token (HS256 JWT, signed with the client secret) or, with
/// `--admin`, an operator token (signed with the cluster secret: `/admin/*` accepts nothing else).
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Print an access token (HS256 JWT): a client token, or with --admin an operator token.",
        discussion: """
            Client tokens are signed with the client secret (--secret or $QUNBO_AUTH_SECRET).
            Operator tokens (--admin) are signed with the cluster secret (--cluster-secret, or
            --secret, or $QUNBO_CLUSTER_SECRET).
            """
    )

    @Option(
        help: "Secret to sign with (default: $QUNBO_AUTH_SECRET, or with --admin $QUNBO_CLUSTER_SECRET)."
    )
    var secret: String?
    @Option(name: .customLong("cluster-secret"), help: "Cluster secret for --admin (default: $QUNBO_CLUSTER_SECRET).")
    var clusterSecret: String?
    @Option(help: "User id (sub claim).") var user: String
    @Option(help: "Display name.") var name: String?
    @Option(name: .customLong("group"), help: "GROUP[:owner|admin|member|guest], repeatable (default role member).")
    var groups: [String] = []
    @Option(help: "Lifetime such as 30m or 12h (default 1h).") var ttl: String = "1h"
    @Flag(help: "An operator token for /admin/* (signed with the cluster secret).") var admin = false

    func run() async throws {
        let secret: String
        if admin {
            secret = try resolveClusterSecret(clusterSecret ?? self.secret)
        } else {
            secret = try resolveSecret(self.secret)
        }
        guard IdentifierRule.user.accepts(user) else { throw CLIError("--user must match [A-Za-z0-9_.-]{1,64}") }
        var roles: [String: GroupRole] = [:]
        for spec in groups {
            let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
            guard let group = parts.first, GroupID(group) != nil else {
                throw CLIError("--group \(spec): group ids are [A-Za-z0-9_-]{1,64}")
            }
            let roleName = parts.count == 2 ? parts[1] : "member"
            guard let role = GroupRole(rawValue: roleName) else {
                throw CLIError("--group \(spec): role must be owner, admin, member or guest")
            }
            roles[group] = role
        }
        guard let lifetime = parseDuration(ttl), lifetime > .zero else {
            throw CLIError("--ttl \(ttl): expected e.g. 30m or 2h")
        }
        let seconds = Double(lifetime.components.seconds) + Double(lifetime.components.attoseconds) / 1e18
        let claims = AccessClaims(
            sub: user,
            name: name,
            groups: roles,
            exp: Date().addingTimeInterval(seconds),
            admin: admin ? true : nil
        )
        print(try await TokenMinter.mint(secret: secret, claims: claims))
    }
}

/// The client secret from a flag or `QUNBO_AUTH_SECRET`.
func resolveSecret(_ flag: String?) throws -> String {
    if let flag, !flag.isEmpty { return flag }
    if let env = ProcessInfo.processInfo.environment["QUNBO_AUTH_SECRET"], !env.isEmpty { return env }
    throw CLIError("no secret: pass --secret or set QUNBO_AUTH_SECRET")
}

/// The cluster secret (operator tokens) from a flag or `QUNBO_CLUSTER_SECRET`.
func resolveClusterSecret(_ flag: String?) throws -> String {
    if let flag, !flag.isEmpty { return flag }
    if let env = ProcessInfo.processInfo.environment["QUNBO_CLUSTER_SECRET"], !env.isEmpty { return env }
    throw CLIError(
        "no cluster secret: operator tokens are signed with it; pass --cluster-secret or set QUNBO_CLUSTER_SECRET"
    )
}
