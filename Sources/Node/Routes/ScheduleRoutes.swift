import Foundation
import Live
import NIOCore
import NIOHTTP1

/// Scheduled lives (预告, API.md): kept in the group's own log (`GroupLog`), a session under the
/// name `~<group>` that is opened on the first schedule and never ends. Its writes go to its
/// primary like a live's (`SessionRouter.write`); its reminders are fired by that primary
/// (`GroupLogKeeper`).
extension LiveRoutes {
    static let groupLogRoute = "/internal/v1/groups/:g/log"

    func registerSchedules(into router: inout Router) {
        router.add(.POST, "/v1/groups/:g/schedule") { request in
            let (actor, group) = try await memberActor(request)
            if actor.role == .guest { throw LiveError.notForGuests.apiError }
            let body = try await request.decodeJSON(ScheduleBody.self, limit: maxBodyBytes)
            guard let startsAt = LiveRFC3339.parse(body.startsAt) else {
                throw APIError.badRequest("startsAt: an RFC 3339 time, e.g. 2026-12-24T20:00:00Z", code: "bad_request")
            }
            let draft = LiveScheduleDraft(id: body.id, title: body.title, startsAt: startsAt)
            let answer = try await writeGroupLog(group: group, command: .schedule(draft), actor: actor)
            let schedule = ScheduleJSON(
                id: draft.id,
                title: LiveText.trimmed(draft.title),
                startsAt: LiveRFC3339.format(millis: startsAt),
                author: actor.user,
                reminded: [],
                seq: answer.seq ?? 0
            )
            return .json(schedule, status: answer.repeated == true ? .ok : .created)
        }
        router.add(.GET, "/v1/groups/:g/schedule") { request in
            let (_, group) = try await memberActor(request)
            let log = GroupLog.logGroup(of: group)
            if let host = sessions.host(group: log) { return .json(SchedulesJSON(await host.state)) }
            do {
                return try await cluster.read(request, group: log)
            } catch let error as APIError where error.code == "no_live_session" && error.status == .notFound {
                return .json(SchedulesJSON(schedules: []))
            }
        }
        router.add(.DELETE, "/v1/groups/:g/schedule/:id") { request in
            let (actor, group) = try await memberActor(request)
            let id = request.parameters["id"] ?? ""
            do {
                return seqResponse(
                    try await writeGroupLog(group: group, command: .unschedule(id), actor: actor),
                    status: .ok
                )
            } catch let error as APIError where error.status == .notFound {
                throw APIError.notFound("no scheduled live \(id) in group \(group)", code: "not_found")
            }
        }
        router.add(.POST, Self.groupLogRoute) { request in
            guard request.peer != nil else { throw PeerGate.notAPeer }
            let group = request.parameters["g"] ?? ""
            guard GroupID(group) != nil else { throw APIError.badRequest("not a group id", code: "bad_group") }
            try await openGroupLog(group, forwarded: true)
            return .rawJSON(#"{"ok":true}"#)
        }
        router.add(.GET, Self.groupLogRoute + "/schedules") { request in
            guard request.peer != nil else { throw PeerGate.notAPeer }
            guard let host = sessions.host(group: GroupLog.logGroup(of: request.parameters["g"] ?? "")) else {
                throw APIError.notFound("no copy of the group's log here", code: "no_live_session")
            }
            return .json(SchedulesJSON(await host.state))
        }
    }

    /// A write to `group`'s log at its primary; the first schedule opens the log.
    func writeGroupLog(group: String, command: LiveCommand, actor: LiveActor) async throws -> SessionWriteAnswer {
        let log = GroupLog.logGroup(of: group)
        for attempt in 0..<20 {
            do {
                return try await cluster.write(group: log, command: command, actor: actor)
            } catch let error as APIError where error.code == "no_live_session" && error.status == .notFound {
                // No log yet: only a schedule opens one; anything else has nothing to act on.
                guard case .schedule = command else {
                    throw APIError.notFound("no scheduled live with this id", code: "not_found")
                }
                if attempt > 0 { try await Task.sleep(for: .milliseconds(50)) }
                try await openGroupLog(group, forwarded: false)
            }
        }
        throw APIError.unavailable("the group's schedule log is not reachable; retry", code: "no_primary")
    }

    /// Opens `group`'s log at the first alive, non-draining node of its preference list (here,
    /// or asked there), with the next nodes as replicas; a log that exists already is left be.
    func openGroupLog(_ group: String, forwarded: Bool) async throws {
        let log = GroupLog.logGroup(of: group)
        let candidates = sessions.startCandidates(group: log)
        if !forwarded, let owner = candidates.first, owner != sessions.nodeID, let address = cluster.address(of: owner),
            let answer = try? await cluster.peers.request(
                .POST,
                "/internal/v1/groups/\(group)/log",
                to: address,
                headers: HTTPHeaders(),
                timeout: cluster.settings.forwardTimeout
            ), answer.status == .ok
        {
            return
        }
        if sessions.host(group: log) != nil { return }
        if await cluster.locate(group: log) != nil { return }
        guard !sessions.isDraining else {
            throw APIError.unavailable("this node is draining; retry", code: "draining")
        }
        let members =
            [sessions.nodeID] + candidates.filter { $0 != sessions.nodeID }.prefix(sessions.shell.replicas - 1)
        do {
            _ = try await sessions.start(
                group: log,
                actor: LiveActor(user: GroupLog.systemUser, role: .owner),
                title: "",
                record: false,
                members: members
            )
        } catch LiveError.conflict {
            // Another request is opening it here right now.
        } catch let refusal as ReplicaRefusal {
            throw refusal.apiError(starting: true)
        }
    }

    /// Logs that the live `session` fulfils `schedule`: no more reminders for it. The live has
    /// started already, so a failure is logged, not answered (the schedule's reminders may then
    /// still fire).
    func fulfil(_ schedule: String, group: String, session: String, by actor: LiveActor) async {
        do {
            _ = try await writeGroupLog(
                group: group,
                command: .fulfil(schedule: schedule, session: session),
                actor: actor
            )
        } catch {
            logger.warning(
                "the live started, but its schedule is not marked fulfilled",
                metadata: ["live.group": "\(group)", "live.schedule": "\(schedule)", "error": "\(error)"]
            )
        }
    }

    /// Whether `group` has a pending schedule `id` (a start naming it is checked against it).
    func scheduleExists(group: String, id: String) async throws -> Bool {
        let log = GroupLog.logGroup(of: group)
        if let host = sessions.host(group: log) { return await host.state.schedules[id] != nil }
        let (location, certain) = await cluster.lookup(group: log)
        guard let location else {
            if certain { return false }
            throw cluster.uncertain(log)
        }
        for node in [location.primary].compactMap({ $0 }) + location.members {
            guard let address = cluster.address(of: node),
                let answer = try? await cluster.peers.request(
                    .GET,
                    "/internal/v1/groups/\(group)/log/schedules",
                    to: address,
                    headers: HTTPHeaders(),
                    timeout: cluster.settings.forwardTimeout
                ), answer.status == .ok,
                let list = try? JSONDecoder().decode(SchedulesJSON.self, from: Data(answer.body.readableBytesView))
            else { continue }
            return list.schedules.contains { $0.id == id }
        }
        throw APIError.unavailable("the group's schedule log is not reachable; retry", code: "no_primary")
    }
}

/// A scheduled live as the API shows it.
struct ScheduleJSON: Codable, Sendable {
    var id: String
    var title: String
    var startsAt: String
    var author: String
    /// Reminders fired so far: `lead`, `start`.
    var reminded: [String]
    var seq: UInt64
}

/// `GET /v1/groups/{g}/schedule`: pending schedules, soonest first.
struct SchedulesJSON: Codable, Sendable {
    var schedules: [ScheduleJSON]

    init(schedules: [ScheduleJSON]) { self.schedules = schedules }

    init(_ state: LiveSessionState) {
        schedules = state.schedules.values.sorted { ($0.startsAt, $0.id) < ($1.startsAt, $1.id) }.map {
            ScheduleJSON(
                id: $0.id,
                title: $0.title,
                startsAt: LiveRFC3339.format(millis: $0.startsAt),
                author: $0.author,
                reminded: $0.reminded.sorted().map(\.rawValue),
                seq: $0.seq
            )
        }
    }
}
