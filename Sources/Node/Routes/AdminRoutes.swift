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
        sessions: LiveSessions,
        faults: FaultInjector?,
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
                // `primary` is the live session's primary as this node's replica knows it; null
                // when there is no live session or this node holds no replica of it.
                return .json(
                    AdminAPI.GroupRingJSON(
                        group: group,
                        replicas: ring.preferenceList(for: group, count: replicas),
                        primary: await sessions.host(group: group)?.primaryHint
                    )
                )
            }
            let shares = ring.shares()
            let nodes = shares.keys.sorted().map { AdminAPI.RingJSON.Node(id: $0, share: shares[$0] ?? 0) }
            return .json(AdminAPI.RingJSON(nodes: nodes, vnodes: ring.vnodesPerNode))
        }
        router.add(.GET, "/admin/v1/sessions") { request in
            try await access.requireAdmin(request)
            var list: [AdminAPI.SessionJSON] = []
            for summary in await sessions.summaries() { list.append(summary.json) }
            list.sort { ($0.group, $0.session) < ($1.group, $1.session) }
            return .json(list)
        }
        // Only with --fault-injection: the chaos harness partitions, delays and drops peer traffic.
        if let faults {
            router.add(.GET, "/admin/v1/faults") { request in
                try await access.requireAdmin(request)
                return .json(faults.current)
            }
            router.add(.PUT, "/admin/v1/faults") { request in
                try await access.requireAdmin(request)
                let new = try await request.decodeJSON(FaultInjector.Faults.self, limit: 64 * 1024)
                faults.set(new)
                return .json(new)
            }
        }
        router.add(.POST, "/admin/v1/drain") { request in
            try await access.requireAdmin(request)
            sessions.requestDrain(thenLeave: false)
            return .json(["draining": true], status: .accepted)
        }
        router.add(.POST, "/admin/v1/leave") { request in
            try await access.requireAdmin(request)
            sessions.requestDrain(thenLeave: true)
            return .json(["leaving": true], status: .accepted)
        }
    }
}

/// Token checks shared by every route family.
public struct AccessControl: Sendable {
    /// Client tokens: signed with `--auth-secret` by the host app.
    let verifier: TokenVerifier
    /// Operator tokens: signed with `--cluster-secret`, so whoever mints client tokens (the chat
    /// platform) cannot drain or stop the cluster.
    let operators: TokenVerifier

    public init(verifier: TokenVerifier, operators: TokenVerifier) {
        self.verifier = verifier
        self.operators = operators
    }

    /// The caller, or 401.
    public func principal(_ request: Request) async throws(APIError) -> Principal {
        guard let token = TokenVerifier.token(of: request) else {
            throw .unauthorized("missing token: send Authorization: Bearer <JWT> or ?access_token=")
        }
        return try await verifier.verify(token)
    }

    /// The caller if it holds an operator token (signed with the cluster secret, `"admin": true`,
    /// `exp` set), else 401 for a missing or bad token, 403 for a valid token that is not an
    /// operator's: a client token (even with `"admin": true`) or one without `"admin": true`.
    @discardableResult
    public func requireAdmin(_ request: Request) async throws(APIError) -> Principal {
        guard let token = TokenVerifier.token(of: request) else {
            throw .unauthorized("missing token: send Authorization: Bearer <JWT> or ?access_token=")
        }
        let principal: Principal
        do throws(APIError) {
            principal = try await operators.verify(token)
        } catch {
            guard error.status == .unauthorized, (try? await verifier.verify(token)) != nil else { throw error }
            throw .forbidden(
                "operator routes need a token signed with the cluster secret (qunbo token --admin)",
                code: "not_operator"
            )
        }
        guard principal.isAdmin else { throw .forbidden("operator routes need an admin token", code: "not_admin") }
        return principal
    }
}
