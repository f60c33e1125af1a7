import Foundation
import Live
import Logging
import NIOCore
import NIOHTTP1

/// Sharing a live into more groups (转化多群, API.md "Group-live features").
///
/// The live stays one session in its own group. What a group it is shared into holds is a
/// **share pointer**: a session of that group whose `started` event names the live
/// (`SessionInfo.sharedFrom`) and which holds nothing else. Being a session, the pointer is placed
/// at its group's place on the ring, replicated, failed over, caught up and drained by the same
/// machinery, so any node finds the share from the group shared into, and it survives the loss
/// of any node on either side. Every `/v1/groups/{g2}/live…` route resolves the pointer
/// (`LiveRoutes.actor`) and acts on the live itself.
///
/// The live's log is the truth: `shared` is logged before the pointer is made (a pointer never
/// exists for a share not in the log), `unshared` before the pointer is ended. `ShareKeeper`
/// ends pointers whose live ended or no longer lists their group.
extension LiveRoutes {
    /// A node asked to hold a new pointer: the body is the `SessionWriteRequest` of its start.
    static let pointerRoute = "/internal/v1/groups/:g/live/pointer"

    func registerShares(into router: inout Router) {
        router.add(.POST, "/v1/groups/:g/live/shares") { request in
            let (actor, group) = try await memberActor(request)
            let body = try await request.decodeJSON(ShareBody.self, limit: maxBodyBytes)
            let into = body.group
            guard GroupID(into) != nil, into != group else {
                throw APIError.badRequest("group: another group's id, [A-Za-z0-9_-]{1,64}", code: "bad_request")
            }
            try await requireModerator(request, of: into)
            // The group shared into must not hold a live of its own.
            let (existing, certain) = await cluster.lookup(group: into)
            if existing == nil, !certain { throw cluster.uncertain(into) }
            let source = try await liveSession(of: group)
            let pointer = "\(group)/\(source)"
            if let existing, existing.sharedFrom != pointer {
                throw APIError.conflict("group \(into) already has a live session", code: "already_live")
            }
            // 1. The live's log says it is shared (a retry is answered, not logged again).
            let answer = try await cluster.write(group: group, command: .share(group: into), actor: actor)
            guard let session = answer.session else { throw APIError.internalError }
            // 2. The pointer, at the group's place (already there on a retry).
            if existing == nil {
                try await makePointer(
                    in: into,
                    from: pointer,
                    title: session.title,
                    record: session.record,
                    user: actor.user
                )
            }
            return .json(session, status: answer.repeated == true ? .ok : .created)
        }
        router.add(.DELETE, "/v1/groups/:g/live/shares/:into") { request in
            let (actor, group) = try await memberActor(request)
            let into = request.parameters["into"] ?? ""
            guard GroupID(into) != nil else { throw APIError.badRequest("not a group id", code: "bad_request") }
            // 1. The log: viewers who came through the share are closed as it commits.
            let answer = try await cluster.write(group: group, command: .unshare(group: into), actor: actor)
            // 2. The pointer: ended, so the group may start its own live (ShareKeeper would too).
            try? await endPointer(in: into, user: actor.user)
            guard let session = answer.session else { throw APIError.internalError }
            return .json(session)
        }
        router.add(.POST, Self.pointerRoute) { request in
            guard request.peer != nil else { throw PeerGate.notAPeer }
            let group = request.parameters["g"] ?? ""
            let bytes = try await request.body.collect(upTo: 1 << 16)
            guard
                let start = try? JSONCoding.decoder.decode(
                    SessionWriteRequest.self,
                    from: Data(bytes.readableBytesView)
                ),
                case .startShare(let from, let title, let record) = start.command
            else { throw APIError.badRequest("malformed pointer start") }
            let state = try await startPointerHere(
                group: group,
                from: from,
                title: title,
                record: record,
                actor: start.actor
            )
            return .json(await sessions.json(state))
        }
    }

    /// 403 unless the caller's token makes them an owner or admin of `group` too.
    private func requireModerator(_ request: Request, of group: String) async throws {
        let principal = try await access.principal(request)
        guard let role = principal.role(in: group), role >= .admin else {
            throw APIError.forbidden(
                "sharing into group \(group) needs you to be its owner or an admin",
                code: "forbidden"
            )
        }
    }

    /// The id of `group`'s live session (404 when none, 503 when that cannot be told).
    private func liveSession(of group: String) async throws -> String {
        if let host = sessions.host(group: group) { return host.sessionID }
        let (location, certain) = await cluster.lookup(group: group)
        guard let location else {
            if !certain { throw cluster.uncertain(group) }
            throw APIError.notFound("no live session in group \(group)", code: "no_live_session")
        }
        return location.session
    }

    /// Starts the pointer at the first node of the group's preference list (where lookups ask),
    /// here when that is this node or it cannot be reached.
    private func makePointer(in group: String, from: String, title: String, record: Bool, user: String) async throws {
        let actor = LiveActor(user: user, role: .owner)
        let owner = sessions.startCandidates(group: group).first
        if let owner, owner != sessions.nodeID, let address = cluster.address(of: owner) {
            let start = SessionWriteRequest(
                command: .startShare(from: from, title: title, record: record),
                actor: actor,
                now: LiveSessions.nowMillis()
            )
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: "application/json")
            if let body = try? JSONCoding.encoder.encode(start),
                let answer = try? await cluster.peers.request(
                    .POST,
                    "/internal/v1/groups/\(group)/live/pointer",
                    to: address,
                    headers: headers,
                    body: ByteBuffer(bytes: body),
                    timeout: cluster.settings.forwardTimeout
                ), answer.status == .ok
            {
                return
            }
        }
        _ = try await startPointerHere(group: group, from: from, title: title, record: record, actor: actor)
    }

    /// Creates the pointer here, with replicas on the group's preference list; answers an
    /// existing pointer to the same live, 409 for any other live of the group.
    private func startPointerHere(
        group: String,
        from: String,
        title: String,
        record: Bool,
        actor: LiveActor
    ) async throws -> LiveSessionState {
        let others = sessions.startCandidates(group: group).filter { $0 != sessions.nodeID }
        do {
            switch try await sessions.start(
                group: group,
                actor: actor,
                title: title,
                record: record,
                members: [sessions.nodeID] + others.prefix(sessions.shell.replicas - 1),
                sharedFrom: from
            ) {
            case .started(let state, _): return state
            case .alreadyLive(let host):
                let state = await host.state
                guard state.info.sharedFrom == from else {
                    throw APIError.conflict("group \(group) already has a live session", code: "already_live")
                }
                return state
            }
        } catch let error as LiveError {
            throw error.apiError
        } catch let refusal as ReplicaRefusal {
            throw refusal.apiError(starting: true)
        }
    }

    /// Ends `group`'s pointer, if it has one (not a live of its own).
    func endPointer(in group: String, user: String) async throws {
        guard let location = await cluster.locate(group: group), location.sharedFrom != nil else { return }
        _ = try await cluster.write(group: group, command: .end, actor: LiveActor(user: user, role: .owner))
    }
}

struct ShareBody: Decodable {
    var group: String
}
