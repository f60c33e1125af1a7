import Foundation
import Gossip
import Logging
import NIOCore
import NIOHTTP1
import Shard
import Synchronization

/// Where a group's live session is: its replica set and primary, as one replica reports it.
struct SessionLocation: Sendable, Codable, Equatable {
    var group: String
    var session: String
    var epoch: UInt64
    var primary: String?
    var members: [String]
    /// A share pointer: the live it stands for, `"<group>/<session>"`.
    var sharedFrom: String?
    /// The groups the live is shared into now.
    var sharedInto: [String]?
    /// Viewers the answering copy serves: `--route auto` relays past `--relay-threshold`.
    var viewers: Int?
}

/// Gets client requests to the node that can serve them (API.md, Routing): writes and the
/// ingest are forwarded to the session's primary over HTTP/2, retrying through a failover; viewer
/// routes at a node that holds no replica are redirected (307) to the nearest healthy replica,
/// or relayed when the client or the node asks for proxying.
///
/// A node that holds no replica finds the session by asking the group's preference list (where
/// placement put its replicas) and caches the answer briefly.
final class SessionRouter: Sendable {
    /// Routing settings.
    struct Settings: Sendable {
        /// How long a forwarded write keeps retrying while the session has no reachable primary
        /// (a failover in progress). Default 5 s: several election timeouts plus gossip detection.
        var failoverWait: Duration = .seconds(5)
        /// Deadline of one forwarded request. Default 10 s (a write waits for a majority's fsync).
        var forwardTimeout: TimeAmount = .seconds(10)
        /// Deadline of one lookup question to a peer. Default 500 ms.
        var lookupTimeout: TimeAmount = .milliseconds(500)
        /// How long a lookup answer is reused. Default 1 s; failures drop it at once. (How long
        /// a dead node still counts as a possible holder is the directory's `deadHolderGrace`.)
        var cacheTTL: Duration = .seconds(1)
    }

    static let lookupRoute = "/internal/v1/groups/:g/live"
    static let forwardedHeader = "qunbo-forwarded"
    static let primaryHeader = "qunbo-primary"

    let sessions: LiveSessions
    let peers: PeerClient
    let view: ClusterView
    let gossip: GossipShell
    let mode: RouteMode
    let settings: Settings
    let metrics: ReplicationMetrics
    let logger: Logger
    private let cache = Mutex<[String: (SessionLocation, ContinuousClock.Instant)]>([:])

    init(
        sessions: LiveSessions,
        peers: PeerClient,
        view: ClusterView,
        gossip: GossipShell,
        mode: RouteMode,
        settings: Settings = Settings(),
        logger: Logger
    ) {
        self.sessions = sessions
        self.peers = peers
        self.view = view
        self.gossip = gossip
        self.mode = mode
        self.settings = settings
        self.metrics = sessions.replicationMetrics
        self.logger = logger
    }

    var nodeID: String { sessions.nodeID }

    // MARK: Finding sessions

    /// What this node's replica of `group`'s live session knows, if it holds one.
    func localLocation(group: String) async -> SessionLocation? {
        guard let host = sessions.host(group: group) else { return nil }
        let state = await host.state
        return SessionLocation(
            group: group,
            session: host.sessionID,
            epoch: await host.epoch,
            primary: await host.primaryHint,
            members: await host.members,
            sharedFrom: state.info.sharedFrom,
            sharedInto: state.sharedInto.isEmpty ? nil : state.sharedInto.keys.sorted(),
            viewers: await host.viewerCount
        )
    }

    /// The group's live session: from the local replica, the cache, or the preference list.
    /// `needPrimary` keeps asking while the answers know of no primary.
    func locate(group: String, needPrimary: Bool = false) async -> SessionLocation? {
        await lookup(group: group, needPrimary: needPrimary).location
    }

    /// Like `locate`, and says whether a miss is certain: every node asked answered that it holds
    /// no copy, and those include every node where the group's replicas belong. A miss is not
    /// certain while one of them does not answer or is not alive (a restart, a partition): the
    /// session may well exist, and the caller answers 503 (retry), not 404.
    func lookup(group: String, needPrimary: Bool = false) async -> (location: SessionLocation?, certain: Bool) {
        if let local = await localLocation(group: group), !needPrimary || local.primary != nil { return (local, true) }
        if let (cached, at) = cache.withLock({ $0[group] }), ContinuousClock.now - at < settings.cacheTTL,
            !needPrimary || cached.primary != nil
        {
            return (cached, true)
        }
        var found: SessionLocation?
        let holders = likelyHolders(group: group)
        var certain = true
        var answered: Set<String> = [nodeID]
        for node in holders {
            switch await askLocation(group: group, node: node) {
            case .unreachable:
                certain = false
                continue
            case .none:
                answered.insert(node)
                continue
            case .found(let answer):
                answered.insert(node)
                if found == nil || (found!.primary == nil && answer.primary != nil) || answer.epoch > found!.epoch {
                    found = answer
                }
            }
            if let f = found, f.primary != nil { break }
        }
        if !missIsCertain(group: group, answered: answered) { certain = false }
        if let found { cache.withLock { $0[group] = (found, .now) } }
        // Nobody answered with a primary, but this node holds a replica: the session exists, its
        // primary is just unknown (an election, or this node is cut off), which is not a 404.
        if let found { return (found, true) }
        if let local = await localLocation(group: group) { return (local, true) }
        // Just restarted, with a copy not yet confirmed and peers not yet answering: the session
        // exists, its primary is unknown for now (callers retry, viewers go to its members).
        return (await unconfirmedLocation(group: group), certain)
    }

    /// Whether "no node answered with a copy" proves there is no session, given the nodes that
    /// answered "none" (this one included): the directory's verdict (`SessionDirectory.verdict`)
    /// on the current view.
    func missIsCertain(group: String, answered: Set<String>) -> Bool {
        SessionDirectory.verdict(
            group: group,
            answered: answered,
            view: sessions.directoryView(view.snapshot),
            settings: sessions.directorySettings,
            now: sessions.replicationNow
        ) == .certainlyNone
    }

    /// A miss that is not certain: answered 503, so clients retry rather than give up.
    func uncertain(_ group: String) -> APIError {
        .unavailable("cannot tell where the live session of group \(group) is right now; retry", code: "no_primary")
    }

    /// A copy held here that no primary has confirmed yet (restored after a restart), as a
    /// location with no primary: proof the session exists, not where to send writes.
    func unconfirmedLocation(group: String) async -> SessionLocation? {
        guard let copy = sessions.anyLiveCopy(group: group) else { return nil }
        return SessionLocation(
            group: group,
            session: copy.sessionID,
            epoch: await copy.epoch,
            primary: nil,
            members: await copy.members.filter { $0 != nodeID },
            sharedFrom: copy.sharedFrom.withLock { $0 }
        )
    }

    /// The other alive nodes most likely to hold a copy of the group's session, best placed
    /// first (`SessionDirectory.likelyHolders` on the current view).
    func likelyHolders(group: String) -> [String] {
        SessionDirectory.likelyHolders(
            group: group,
            view: sessions.directoryView(view.snapshot),
            settings: sessions.directorySettings
        )
    }

    func forget(group: String) {
        cache.withLock { $0[group] = nil }
    }

    /// The cached lookup answer for `group`, however old.
    func cachedLocation(group: String) -> SessionLocation? {
        cache.withLock { $0[group]?.0 }
    }

    enum LookupAnswer {
        case found(SessionLocation)
        /// The node answered that it holds no copy.
        case none
        /// No answer (unreachable, timed out) or one that makes no sense.
        case unreachable
    }

    private func askLocation(group: String, node: String) async -> LookupAnswer {
        guard let address = address(of: node) else { return .unreachable }
        let headers = HTTPHeaders()
        guard
            let response = try? await peers.request(
                .GET,
                "/internal/v1/groups/\(group)/live",
                to: address,
                headers: headers,
                timeout: settings.lookupTimeout
            )
        else { return .unreachable }
        if response.status == .notFound { return .none }
        guard response.status == .ok,
            let location = try? JSONDecoder().decode(SessionLocation.self, from: Data(response.body.readableBytesView))
        else { return .unreachable }
        return .found(location)
    }

    /// The internal lookup route: this node's replica of the group's live session, or 404.
    func handleLookup(_ request: Request) async throws -> Response {
        guard request.peer != nil else {
            throw PeerGate.notAPeer
        }
        let group = request.parameters["g"] ?? ""
        // An unconfirmed copy answers too (with no primary): during a rolling restart it may be
        // the only sign of the session a node can find, and "no session" would be a false 404.
        var location = await localLocation(group: group)
        if location == nil { location = await unconfirmedLocation(group: group) }
        guard let location else {
            throw APIError.notFound("no replica of a live session here", code: "no_live_session")
        }
        return .json(location)
    }

    func address(of node: String) -> String? {
        view.snapshot.members.first { $0.id.rawValue == node }?.address
    }

    // MARK: Writes (the typed forwarding is in SessionWrite.swift)

    static func notPrimary(_ hint: String?) -> Response {
        var response = APIError.unavailable("this node is not the session's primary", code: "not_primary").response()
        response.headers.add(name: "qunbo-refusal", value: "not_primary")
        if let hint { response.headers.add(name: primaryHeader, value: hint) }
        return response
    }

    /// Sends the request with a collected body to `address` and relays the answer.
    func forwardBuffered(_ request: Request, body: ByteBuffer?, to address: String) async throws(PeerError) -> Response
    {
        let answer = try await peers.request(
            request.method,
            request.uri,
            to: address,
            headers: forwardHeaders(request),
            body: body.flatMap { $0.readableBytes > 0 ? $0 : nil },
            timeout: settings.forwardTimeout
        )
        var response = Response(status: answer.status, body: .buffer(answer.body))
        for (name, value) in answer.headers where Self.relayedResponseHeaders.contains(name.lowercased()) {
            response.headers.add(name: name, value: value)
        }
        return response
    }

    private static let relayedRequestHeaders: Set<String> = [
        "authorization", "content-type", "last-event-id", "qunbo-route", "accept",
    ]
    private static let relayedResponseHeaders: Set<String> = [
        "content-type", "retry-after", "cache-control", "qunbo-refusal", "qunbo-primary", "qunbo-replica", "location",
    ]

    func forwardHeaders(_ request: Request) -> HTTPHeaders {
        var headers = HTTPHeaders()
        for (name, value) in request.headers where Self.relayedRequestHeaders.contains(name.lowercased()) {
            headers.add(name: name, value: value)
        }
        headers.add(name: Self.forwardedHeader, value: nodeID)
        return headers
    }
}
