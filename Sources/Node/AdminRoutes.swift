import Gossip
import Live
import Shard

/// The operator API (`/admin/v1/*`, admin token) for membership and placement.
enum AdminRoutes {
    static func register(
        into router: inout Router,
        access: AccessControl,
        gossip: GossipShell,
        view: ClusterView,
        replicas: Int
    ) {
        router.add(.GET, "/admin/v1/members") { request in
            try await access.requireAdmin(request)
            let snapshot = view.snapshot
            let members = gossip.members.map { m in
                AdminAPI.MemberJSON(
                    id: m.id.rawValue,
                    address: m.address,
                    zone: m.zone,
                    state: m.status.rawValue,
                    incarnation: m.incarnation,
                    generation: m.generation,
                    rttMs: m.id.rawValue == snapshot.selfID
                        ? nil : gossip.rttEstimate(to: m.id).map { ($0 * 1e5).rounded() / 100 },
                    sessions: m.load.sessions,
                    viewers: m.load.viewers
                )
            }
            return .json(AdminAPI.MembersJSON(self: snapshot.selfID, members: members))
        }
        router.add(.GET, "/admin/v1/ring") { request in
            try await access.requireAdmin(request)
            let ring = view.snapshot.ring
            if let group = request.query["group"] {
                guard GroupID(group) != nil else {
                    throw APIError.badRequest("group ids are [A-Za-z0-9_-]{1,64}", code: "bad_group")
                }
                // `primary` comes from the live session's epoch once sessions are replicated;
                // with no live session it is null.
                return .json(
                    AdminAPI.GroupRingJSON(
                        group: group,
                        replicas: ring.preferenceList(for: group, count: replicas),
                        primary: nil
                    )
                )
            }
            let shares = ring.shares()
            let nodes = shares.keys.sorted().map { AdminAPI.RingJSON.Node(id: $0, share: shares[$0] ?? 0) }
            return .json(AdminAPI.RingJSON(nodes: nodes, vnodes: ring.vnodesPerNode))
        }
    }
}

/// Token checks shared by every route family.
public struct AccessControl: Sendable {
    let verifier: TokenVerifier

    /// The caller, or 401.
    public func principal(_ request: Request) async throws(APIError) -> Principal {
        guard let token = TokenVerifier.token(of: request) else {
            throw .unauthorized("missing token: send Authorization: Bearer <JWT> or ?access_token=")
        }
        return try await verifier.verify(token)
    }

    /// The caller if it is an operator (`"admin": true`), else 401/403.
    @discardableResult
    public func requireAdmin(_ request: Request) async throws(APIError) -> Principal {
        let principal = try await principal(request)
        guard principal.isAdmin else { throw .forbidden("operator routes need an admin token", code: "not_admin") }
        return principal
    }
}
