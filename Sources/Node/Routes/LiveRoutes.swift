import Foundation
import Live
import Logging
import NIOCore
import NIOHTTP1

/// The client API under `/v1/groups/{g}/...` (API.md, Live sessions).
struct LiveRoutes: Sendable {
    let sessions: LiveSessions
    let cluster: SessionRouter
    let access: AccessControl
    let maxBodyBytes: Int
    /// Ingest bitrate ceiling, bits per second (`--max-ingest-bitrate`).
    var maxIngestBitrate: Int = 20_000_000
    /// Counts a request cut by a limit (`qunbo_http_refused_total{reason}`).
    var refused: @Sendable (String) -> Void = { _ in }
    var logger = Logger(label: "qunbo.live")
    /// This node's RTMP URL and the stream keys' signer, when `--rtmp-listen` is on: a host who
    /// starts a session is told where and with what key to publish.
    var rtmp: (url: String, keys: StreamKey)?

    /// The caller and the group whose live session the request acts on: the path's group, or,
    /// when a live was shared into it, the group the live belongs to. Through a share the caller
    /// keeps their own group (`LiveActor.group`, so their events carry it) and at most a
    /// member's rights: an owner of the group shared into does not moderate someone else's live.
    func actor(_ request: Request) async throws -> (LiveActor, String) {
        let (actor, group) = try await memberActor(request)
        guard let source = await cluster.shareSource(of: group) else { return (actor, group) }
        let role: LiveRole = actor.role == .guest ? .guest : .member
        return (LiveActor(user: actor.user, name: actor.name, role: role, group: group), source.group)
    }

    /// The caller as a domain actor for the path's own group; 400 for a bad group id, 401
    /// without a valid token, 403 for non-members (on every route under the group).
    func memberActor(_ request: Request) async throws -> (LiveActor, String) {
        let group = request.parameters["g"] ?? ""
        guard GroupID(group) != nil else {
            throw APIError.badRequest("group ids are [A-Za-z0-9_-]{1,64}", code: "bad_group")
        }
        let principal = try await access.principal(request)
        guard let role = principal.role(in: group) else {
            throw APIError.forbidden("not a member of group \(group)", code: "not_a_member")
        }
        return (LiveActor(user: principal.user, name: principal.name, role: LiveRole(rawValue: role.rawValue)), group)
    }

    /// Runs a replay route here, or, when this node holds no copy of the session, asks the
    /// nodes that may (the group's preference list).
    func replayRoute(
        _ pattern: String,
        into router: inout Router,
        _ handler: @escaping @Sendable (Request, String) async throws -> Response
    ) {
        router.add(.GET, pattern) { request in
            let (_, group) = try await memberActor(request)
            let forwarded = request.headers.first(name: SessionRouter.forwardedHeader) != nil
            do {
                let response = try await handler(request, group)
                if !forwarded, pattern.hasSuffix("/replays"), case .buffer(let b) = response.body, b.readableBytes <= 2
                {
                    return try await cluster.fromHolders(request, group: group) ?? response
                }
                return response
            } catch let error as APIError where error.status == .notFound && !forwarded {
                return try await cluster.fromHolders(request, group: group) ?? error.response()
            }
        }
    }

    func seqResponse(_ answer: SessionWriteAnswer, status: HTTPResponseStatus = .created) -> Response {
        // Hand-written: one number, on every write (Foundation's encoder was 2.5% of the primary's CPU).
        if let total = answer.likes { return .rawJSON(#"{"likes":\#(total)}"#, status: .accepted) }
        return .rawJSON(#"{"seq":\#(answer.seq ?? 0)}"#, status: status)
    }

    /// A logged write: authenticated and parsed here into a command, then run on the session's
    /// primary (here, or sent there as a typed command: `SessionRouter.write`).
    func writeRoute(
        _ method: HTTPMethod,
        _ pattern: String,
        status: HTTPResponseStatus = .created,
        into router: inout Router,
        _ command: @escaping @Sendable (Request, LiveActor) async throws -> LiveCommand
    ) {
        router.add(method, pattern) { request in
            let (actor, group) = try await actor(request)
            let command = try await command(request, actor)
            return seqResponse(try await cluster.write(group: group, command: command, actor: actor), status: status)
        }
    }

    func register(into router: inout Router) {
        router.add(.POST, "/v1/groups/:g/live") { request in
            let (actor, group) = try await memberActor(request)
            let bodyBytes = try await request.body.collect(upTo: maxBodyBytes)
            var local = request
            local.body = .buffered(bodyBytes)
            let body = try await local.decodeJSON(StartBody.self, limit: maxBodyBytes, emptyAs: StartBody())
            let response = try await start(request, group: group, actor: actor, body: body, bytes: bodyBytes)
            return response.status == .created ? withIngest(response, group: group) : response
        }
        router.add(.GET, "/v1/groups/:g/live") { request in
            let (_, group) = try await actor(request)
            if let host = sessions.host(group: group) {
                return .json(await sessions.json(await host.state, host: host))
            }
            return try await cluster.read(request, group: group)
        }
        router.add(.DELETE, "/v1/groups/:g/live") { request in
            let (actor, group) = try await actor(request)
            let answer = try await cluster.write(group: group, command: .end, actor: actor)
            guard let session = answer.session else { throw APIError.internalError }
            // The groups it was shared into free up now (ShareKeeper would within seconds).
            if let shared = session.sharedInto {
                let routes = self
                Task { for into in shared { try? await routes.endPointer(in: into, user: actor.user) } }
            }
            return .json(session)
        }
        registerInteractions(into: &router)
        registerGroupFeatures(into: &router)
        registerShares(into: &router)
        registerSchedules(into: &router)
        registerMedia(into: &router)
        registerEvents(into: &router)
        registerReplays(into: &router)
    }

    /// The answer to the host who started a session, with where to publish over RTMP:
    /// `"ingest": {"rtmpUrl", "streamKey"}` (this node's RTMP port; the key works at any node).
    private func withIngest(_ response: Response, group: String) -> Response {
        guard let rtmp, case .buffer(let body) = response.body,
            let session = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any],
            let id = session["id"] as? String,
            let json = try? JSONSerialization.data(
                withJSONObject: session.merging(
                    ["ingest": ["rtmpUrl": rtmp.url, "streamKey": rtmp.keys.make(group: group, session: id)]]
                ) { a, _ in a },
                options: [.sortedKeys, .withoutEscapingSlashes]
            )
        else { return response }
        var answer = Response(status: response.status, body: .buffer(ByteBuffer(bytes: json)))
        answer.headers = response.headers
        return answer
    }

    /// Starts a session on the group's owner (the first alive, non-draining node of its
    /// preference list) with the next nodes as replicas; forwarded there from any other node.
    private func start(
        _ request: Request,
        group: String,
        actor: LiveActor,
        body: StartBody,
        bytes: ByteBuffer
    ) async throws -> Response {
        // Before any lookup or placement: a guest's start changes nothing anywhere.
        if actor.role == .guest { throw LiveError.notForGuests.apiError }
        let forwarded = request.headers.first(name: SessionRouter.forwardedHeader) != nil
        let candidates = sessions.startCandidates(group: group)
        if let source = await cluster.shareSource(of: group) {
            throw APIError.conflict(
                "the live of group \(source.group) is shared into \(group); it ends, or is unshared, first",
                code: "already_live"
            )
        }
        if let host = sessions.host(group: group) {
            return .json(await sessions.json(await host.state, host: host), status: .conflict)
        }
        if !forwarded, let owner = candidates.first, owner != sessions.nodeID, let address = cluster.address(of: owner)
        {
            if let response = try? await cluster.forwardBuffered(request, body: bytes, to: address) { return response }
        }
        // One live session per group: if another node holds one, let its primary answer 409.
        if let existing = await cluster.locate(group: group) {
            if !forwarded, let primary = existing.primary, let address = cluster.address(of: primary),
                let response = try? await cluster.forwardBuffered(request, body: bytes, to: address)
            {
                return response
            }
            throw APIError.conflict("group \(group) already has a live session", code: "already_live")
        }
        guard !sessions.isDraining else {
            throw APIError.unavailable("this node is draining; start the session on another node", code: "draining")
        }
        // Below --min-free-disk no session starts here (its log would have no room to grow).
        if sessions.diskSpace.isLow {
            sessions.diskSpace.refused()
            throw sessions.diskSpace.refusal
        }
        if let schedule = body.schedule, try await !scheduleExists(group: group, id: schedule) {
            throw APIError.notFound("no scheduled live \(schedule) in group \(group)", code: "no_schedule")
        }
        let members =
            [sessions.nodeID] + candidates.filter { $0 != sessions.nodeID }.prefix(sessions.shell.replicas - 1)
        do {
            switch try await sessions.start(
                group: group,
                actor: actor,
                title: body.title ?? "",
                record: body.record ?? false,
                members: members
            ) {
            case .started(let state, let host):
                if let schedule = body.schedule {
                    await fulfil(schedule, group: group, session: state.info.id, by: actor)
                }
                return .json(await sessions.json(state, host: host), status: .created)
            case .alreadyLive(let host):
                return .json(await sessions.json(await host.state, host: host), status: .conflict)
            }
        } catch let error as LiveError {
            throw error.apiError
        } catch let refusal as ReplicaRefusal {
            if case .notPrimary = refusal { throw refusal }
            throw refusal.apiError(starting: true)
        }
    }

    private func registerInteractions(into router: inout Router) {
        writeRoute(.POST, "/v1/groups/:g/live/comments", into: &router) { request, actor in
            let body = try await request.decodeJSON(TextBody.self, limit: maxBodyBytes)
            return .comment(text: body.text, clientID: body.id)
        }
        router.add(.GET, "/v1/groups/:g/live/comments") { request in
            let (actor, group) = try await actor(request)
            let after = try Self.uint(request.query["after"], name: "after") ?? 0
            let limit = min(try Self.uint(request.query["limit"], name: "limit") ?? 50, 500)
            guard let host = sessions.host(group: group) else { return try await cluster.read(request, group: group) }
            guard await !host.isKicked(actor.user, role: actor.role) else { throw LiveError.kicked.apiError }
            let events = await host.events
            let page = events.lazy.filter { $0.type == .comment && $0.seq > after }.prefix(Int(limit))
            return Self.eventArray(Array(page))
        }
        writeRoute(.POST, "/v1/groups/:g/live/likes", into: &router) { request, actor in
            let body = try await request.decodeJSON(LikesBody.self, limit: maxBodyBytes)
            return .like(count: body.count)
        }
        writeRoute(.POST, "/v1/groups/:g/live/tips", into: &router) { request, actor in
            let body = try await request.decodeJSON(TipBody.self, limit: maxBodyBytes)
            let command = LiveCommand.tip(amount: body.amount, currency: body.currency, clientID: body.id)
            return command
        }
        writeRoute(.POST, "/v1/groups/:g/live/questions", into: &router) { request, actor in
            let body = try await request.decodeJSON(TextBody.self, limit: maxBodyBytes)
            return .question(text: body.text, clientID: body.id)
        }
        writeRoute(.POST, "/v1/groups/:g/live/questions/:seq/highlight", into: &router) { request, actor in
            guard let seq = UInt64(request.parameters["seq"] ?? "") else {
                throw APIError.badRequest("the question seq must be a number")
            }
            return .highlight(questionSeq: seq)
        }
        writeRoute(.POST, "/v1/groups/:g/live/pins", into: &router) { request, actor in
            let body = try await request.decodeJSON(PinBody.self, limit: maxBodyBytes)
            return .pin(text: body.text)
        }
        writeRoute(.DELETE, "/v1/groups/:g/live/pins", status: .ok, into: &router) { _, _ in .unpin }
        writeRoute(.POST, "/v1/groups/:g/live/moderation", into: &router) { request, actor in
            let body = try await request.decodeJSON(ModerationBody.self, limit: maxBodyBytes)
            guard let action = LiveModerationAction(rawValue: body.action) else {
                throw APIError.badRequest("action must be mute, unmute or kick")
            }
            return .moderate(action: action, user: body.user)
        }
    }

    private func registerMedia(into router: inout Router) {
        registerIngest(into: &router)

        for format in MediaFormat.allCases {
            router.add(.GET, "/v1/groups/:g/live/stream.\(format.rawValue)") { request in
                let (actor, group) = try await actor(request)
                guard let host = await viewerHost(request, group: group) else {
                    return try await cluster.viewer(request, group: group, streaming: format.contentType)
                }
                guard await !host.isKicked(actor.user, role: actor.role) else { throw LiveError.kicked.apiError }
                let ticket = try await admitViewer(actor, to: host)
                var response = Response(
                    // Handed off like event viewers: the session's media fan-out feeds the channel.
                    body: .handOff { writer in
                        await host.subscribeMedia(
                            format,
                            user: actor.user,
                            via: actor.group,
                            channel: writer.channel,
                            framing: writer.framing,
                            ticket: ticket
                        )
                    }
                )
                response.headers.add(name: "Content-Type", value: format.contentType)
                response.headers.add(name: "Cache-Control", value: "no-store")
                return response
            }
        }
        router.add(.GET, "/v1/groups/:g/live/index.m3u8") { request in
            let (actor, group) = try await actor(request)
            guard let host = await viewerHost(request, group: group) else {
                return try await cluster.viewer(request, group: group, streaming: nil)
            }
            guard await !host.isKicked(actor.user, role: actor.role) else { throw LiveError.kicked.apiError }
            let suffix = Self.tokenSuffix(request)
            guard let playlist = await host.livePlaylist(uri: { "segments/\($0).ts\(suffix)" }) else {
                throw APIError.notFound("no media segment yet", code: "no_media")
            }
            var response = Response.text(playlist, contentType: "application/vnd.apple.mpegurl")
            response.headers.add(name: "Cache-Control", value: "no-cache")
            return response
        }
        router.add(.GET, "/v1/groups/:g/live/segments/:name") { request in
            let (actor, group) = try await actor(request)
            guard let host = await viewerHost(request, group: group) else {
                return try await cluster.viewer(request, group: group, streaming: nil)
            }
            guard await !host.isKicked(actor.user, role: actor.role) else { throw LiveError.kicked.apiError }
            guard let n = Self.segmentNumber(request.parameters["name"]),
                let buffer = await host.segment(n)
            else { throw APIError.notFound("no such segment", code: "no_segment") }
            var response = Response(body: .buffer(buffer))
            response.headers.add(name: "Content-Type", value: "video/mp2t")
            return response
        }
    }

    private func registerEvents(into router: inout Router) {
        router.add(.GET, "/v1/groups/:g/live/events") { request in
            let (actor, group) = try await actor(request)
            let resume = request.headers.first(name: "Last-Event-ID") ?? request.query["after"]
            let scope = request.query["scope"] ?? "all"
            guard scope == "all" || scope == "own" else {
                throw APIError.badRequest("scope: all or own", code: "bad_request")
            }
            let after = try Self.uint(resume, name: "Last-Event-ID/after") ?? 0
            guard let host = await viewerHost(request, group: group) else {
                return try await cluster.viewer(request, group: group, streaming: "text/event-stream")
            }
            guard await !host.isKicked(actor.user, role: actor.role) else { throw LiveError.kicked.apiError }
            let ticket = try await admitViewer(actor, to: host)
            var response = Response(
                // Handed off: the viewer's channel is fed by the session's fan-out, and no task
                // stays parked per viewer (an idle viewer costs its connection only).
                body: .handOff { writer in
                    await host.subscribeEvents(
                        user: actor.user,
                        via: actor.group,
                        ownScope: scope == "own",
                        channel: writer.channel,
                        framing: writer.framing,
                        after: after,
                        ticket: ticket
                    )
                }
            )
            response.headers.add(name: "Content-Type", value: "text/event-stream")
            response.headers.add(name: "Cache-Control", value: "no-cache")
            return response
        }
    }

    private func registerReplays(into router: inout Router) {
        replayRoute("/v1/groups/:g/replays", into: &router) { _, group in
            var list: [SessionJSON] = []
            for state in sessions.endedSessions(group: group) where state.info.record {
                list.append(await sessions.json(state))
            }
            return .json(list)
        }
        replayRoute("/v1/groups/:g/replays/:session/index.m3u8", into: &router) { request, group in
            let state = try await ended(group, request)
            if let from = state.info.sharedFrom { return try await sharedReplay(from, "index.m3u8", request) }
            return try replayPlaylist(group: group, state: state, suffix: Self.tokenSuffix(request))
        }
        replayRoute("/v1/groups/:g/replays/:session/segments/:name", into: &router) { request, group in
            let state = try await ended(group, request)
            let name = request.parameters["name"] ?? ""
            if let from = state.info.sharedFrom { return try await sharedReplay(from, "segments/" + name, request) }
            return try replaySegment(group: group, state: state, name: name)
        }
        replayRoute("/v1/groups/:g/replays/:session/events", into: &router) { request, group in
            let state = try await ended(group, request)
            if let from = state.info.sharedFrom { return try await sharedReplay(from, "events", request) }
            return Self.eventArrayStream(await sessions.events(group: group, session: state.info.id))
        }
        registerSharedReplays(into: &router)
    }

    /// The ended session a replay route names; 404 if none, 403 `kicked` for a user kicked
    /// from it (the replay is that session too).
    private func ended(_ group: String, _ request: Request) async throws -> LiveSessionState {
        guard let id = request.parameters["session"], let state = sessions.endedSession(group: group, id: id) else {
            throw APIError.notFound("no such ended session", code: "no_session")
        }
        let (actor, _) = try await memberActor(request)
        let rank = LiveRank(role: actor.role ?? .member, user: actor.user, host: state.info.host)
        guard !state.isKicked(actor.user, rank: rank) else { throw LiveError.kicked.apiError }
        return state
    }

    /// The copy that serves a viewer route here: this node's replica, or an edge-relay copy when
    /// the route says relay (`SessionRouter.relayHost`); nil: redirect or proxy.
    private func viewerHost(_ request: Request, group: String) async -> SessionHost? {
        if let host = sessions.host(group: group) { return host }
        return await cluster.relayHost(for: request, group: group)
    }

    /// Holds one of the user's viewer places on this session, or 429 `too_many_viewers`.
    private func admitViewer(_ actor: LiveActor, to host: SessionHost) async throws -> ViewerTicket {
        guard let ticket = await host.admitViewer(user: actor.user) else {
            refused("too_many_viewers")
            throw APIError(
                .tooManyRequests,
                "too_many_viewers",
                "you already hold \(host.settings.maxViewersPerUser) event or media streams of this session here; "
                    + "close one first"
            )
        }
        return ticket
    }

    /// A JSON array of events in the public shape.
    static func eventArray(_ events: [LiveEvent]) -> Response {
        var text = "["
        for (i, e) in events.enumerated() {
            if i > 0 { text += "," }
            text += e.apiJSON()
        }
        text += "]"
        return .text(text, contentType: "application/json")
    }

    static func uint(_ text: String?, name: String) throws -> UInt64? {
        guard let text else { return nil }
        guard let value = UInt64(text) else { throw APIError.badRequest("\(name) must be a non-negative integer") }
        return value
    }

    static func segmentNumber(_ name: String?) -> Int? {
        guard let name, name.hasSuffix(".ts") else { return nil }
        return Int(name.dropLast(3)).flatMap { $0 >= 0 ? $0 : nil }
    }

    /// Players that cannot set headers pass `?access_token=`; the URIs a playlist lists carry
    /// it on, or the player could not fetch them.
    static func tokenSuffix(_ request: Request) -> String {
        guard let token = request.query["access_token"], request.headers.first(name: "Authorization") == nil else {
            return ""
        }
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        return "?access_token=" + (token.addingPercentEncoding(withAllowedCharacters: allowed) ?? token)
    }
}
