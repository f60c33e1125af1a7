import Foundation
import NIOCore
import NIOHTTP1

/// Requests relayed to the node that can serve them: reads relayed from a replica, and viewers
/// redirected (307), proxied or relayed (edge relays). The ingest is in `SessionRouter+Ingest`.
extension SessionRouter {
    /// Asks the nodes that may hold a copy of the group's sessions (its preference list), in
    /// order, and returns the first answer that found something; nil when none did.
    func fromHolders(_ request: Request, group: String) async throws -> Response? {
        for node in likelyHolders(group: group) {
            guard let address = address(of: node),
                let response = try? await forwardBuffered(request, body: nil, to: address),
                response.status != .notFound
            else { continue }
            if case .buffer(let body) = response.body, body.readableBytes <= 2, response.status == .ok { continue }
            return response
        }
        return nil
    }

    /// A read that is not a viewer stream (the session, comment history): relayed from the
    /// primary, or any replica.
    func read(_ request: Request, group: String) async throws -> Response {
        guard request.headers.first(name: Self.forwardedHeader) == nil else {
            throw APIError.notFound("no live session in group \(group)", code: "no_live_session")
        }
        let (location, certain) = await lookup(group: group)
        guard let location, let node = location.primary ?? location.members.first, let address = address(of: node)
        else {
            if !certain { throw uncertain(group) }
            throw APIError.notFound("no live session in group \(group)", code: "no_live_session")
        }
        do {
            return try await forwardBuffered(request, body: nil, to: address)
        } catch {
            forget(group: group)
            throw APIError.unavailable("the session's node went away; retry", code: "replica_lost")
        }
    }

    // MARK: Viewers

    /// What the client asked for with `Qunbo-Route` (`auto` and unknown values ask nothing).
    static func requestedRoute(_ request: Request) -> RouteMode? {
        guard let value = request.headers.first(name: "qunbo-route")?.lowercased(),
            let mode = RouteMode(rawValue: value), mode != .auto
        else { return nil }
        return mode
    }

    /// The relay copy that serves this viewer here (API.md, Hot sessions), or nil when the viewer
    /// is redirected or proxied instead (`viewer`): `--route` and `Qunbo-Route` decide
    /// (`ViewerRouteMode.route`), with the session's viewers on the replica the lookup asked.
    func relayHost(for request: Request, group: String) async -> SessionHost? {
        guard request.headers.first(name: Self.forwardedHeader) == nil else { return nil }
        let requested = Self.requestedRoute(request)
        let threshold = sessions.relays.settings.threshold
        // A live relay copy here serves at once: no lookup per viewer.
        if let existing = sessions.relays.host(group: group), await existing.state.phase != .ended,
            mode.route(requested: requested, relayingHere: true, viewersPerReplica: nil, threshold: threshold)
                == .relay
        {
            return existing
        }
        guard mode == .auto || mode == .relay || requested == .relay else { return nil }
        guard let location = await lookup(group: group).location, !location.members.contains(nodeID) else {
            return nil
        }
        let route = mode.route(
            requested: requested,
            relayingHere: false,
            viewersPerReplica: location.viewers,
            threshold: threshold
        )
        guard route == .relay else { return nil }
        let host = await sessions.relay(group: group, session: location.session, members: location.members)
        if host != nil { metrics.viewersRelayed.increment() }
        return host
    }

    /// A viewer route for a group whose session has no replica here: 307 to the nearest healthy
    /// replica, or relay it (`Qunbo-Route: proxy`, `--route proxy`). `streaming` routes (events,
    /// stream.ts) relay as a stream with `contentType`; the others are relayed whole.
    func viewer(_ request: Request, group: String, streaming contentType: String?) async throws -> Response {
        guard request.headers.first(name: Self.forwardedHeader) == nil else {
            throw APIError.notFound("no replica of this session here", code: "no_live_session")
        }
        let (location, certain) = await lookup(group: group)
        guard let location, let replica = nearest(location.members) else {
            if !certain { throw uncertain(group) }
            throw APIError.notFound("no live session in group \(group)", code: "no_live_session")
        }
        let proxy = (Self.requestedRoute(request) ?? mode) == .proxy
        guard proxy else {
            metrics.viewersRedirected.increment()
            var response = Response(status: .temporaryRedirect)
            response.headers.add(name: "Location", value: replica.address + request.uri)
            response.headers.add(name: "Qunbo-Replica", value: replica.id)
            response.headers.add(name: "Cache-Control", value: "no-store")
            return response
        }
        metrics.viewersProxied.increment()
        guard let contentType else {
            do {
                var response = try await forwardBuffered(request, body: nil, to: replica.address)
                response.headers.replaceOrAdd(name: "Qunbo-Replica", value: replica.id)
                return response
            } catch {
                forget(group: group)
                throw APIError.unavailable("the replica went away; retry", code: "replica_lost")
            }
        }
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: request.uri)
        head.headers = forwardHeaders(request)
        head.headers.add(name: "host", value: replica.address)
        let peers = self.peers
        let address = replica.address
        var response = Response(
            body: .stream { [head] writer in
                _ = try await peers.exchange(to: address) { outbound, _ in
                    try await outbound.write(.head(head))
                    try await outbound.write(.end(nil))
                } receive: { inbound in
                    while let part = try await inbound.next() {
                        switch part {
                        case .head(let h) where h.status != .ok:
                            return
                        case .head:
                            continue
                        case .body(let b):
                            try await writer.write(b)
                        case .end:
                            return
                        }
                    }
                }
            }
        )
        response.headers.add(name: "Content-Type", value: contentType)
        response.headers.add(name: "Cache-Control", value: "no-store")
        response.headers.add(name: "Qunbo-Replica", value: replica.id)
        return response
    }

    /// The nearest healthy member of `ids`: alive, lowest RTT estimate from here, then fewest viewers.
    func nearest(_ ids: [String]) -> (id: String, address: String)? {
        let members = view.snapshot.members.filter { $0.status == .alive && ids.contains($0.id.rawValue) }
        let best = members.min { a, b in
            let ra = gossip.rttEstimate(to: a.id) ?? .infinity
            let rb = gossip.rttEstimate(to: b.id) ?? .infinity
            if ra != rb { return ra < rb }
            return (a.load.viewers, a.id.rawValue) < (b.load.viewers, b.id.rawValue)
        }
        return best.map { ($0.id.rawValue, $0.address) }
    }
}
