import Foundation
import Live
import Logging
import NIOCore
import NIOHTTP1

/// The broadcaster's media in: the public HTTP ingest, the internal route a node that took an
/// RTMP publisher streams to the primary, and the RTMP entry itself. All three end in one
/// `runIngest`, so the checks (one ingest at a time, the bitrate cap, the end closing it) are
/// the same whichever way the media came.
extension LiveRoutes {
    /// The primary's end of an RTMP publish that entered at another node: the body is the
    /// MPEG-TS the entry node converted; `session` names the session the stream key was for.
    static let internalIngestRoute = "/internal/v1/groups/:g/live/ingest"

    func registerIngest(into router: inout Router) {
        let ingest: RouteHandler = { request in
            let (actor, group) = try await actor(request)
            return try await publicIngest(request, actor: actor, group: group)
        }
        router.add(.POST, "/v1/groups/:g/live/ingest", ingest)
        router.add(.PUT, "/v1/groups/:g/live/ingest", ingest)

        router.add(.POST, Self.internalIngestRoute) { request in
            guard request.peer != nil else { throw PeerGate.notAPeer }
            let group = request.parameters["g"] ?? ""
            guard let host = sessions.host(group: group), await host.role == .primary else {
                return SessionRouter.notPrimary(await sessions.host(group: group)?.primaryHint)
            }
            guard await host.info.id == request.query["session"] else { throw Self.staleKey }
            // Lost mid-stream: the entry node that forwarded it goes on at the new primary.
            return try await runIngest(on: host, group: group, user: await host.info.host, body: request.body) {
                SessionRouter.notPrimary(nil)
            }
        }
    }

    /// The HTTP ingest: run here while this node is the primary, else streamed to the primary.
    /// Either way it rides through a change of primary: a primary here that loses the role
    /// streams the rest of the body to the new one, and a forwarding node goes on at the new
    /// primary, or here when this node won the election.
    func publicIngest(_ request: Request, actor: LiveActor, group: String) async throws -> Response {
        let forwarded = request.headers.first(name: SessionRouter.forwardedHeader) != nil
        guard let host = sessions.host(group: group), await host.role == .primary else {
            // A node that forwarded this ingest here retries at the primary itself.
            if forwarded { return SessionRouter.notPrimary(await sessions.host(group: group)?.primaryHint) }
            return try await cluster.forwardIngest(request, group: group) {
                try await localIngest(request, actor: actor, group: group)
            }
        }
        guard await actor.user == host.info.host else {
            throw APIError.forbidden("only the host who started the session may send its media", code: "not_host")
        }
        return try await runIngest(on: host, group: group, user: actor.user, body: request.body) {
            if forwarded { return SessionRouter.notPrimary(nil) }
            return try await cluster.forwardIngest(request, group: group, afterLoss: true) {
                try await localIngest(request, actor: actor, group: group)
            }
        }
    }

    /// The rest of an ingest, here, if this node is the primary now; nil if it is not.
    private func localIngest(_ request: Request, actor: LiveActor, group: String) async throws -> Response? {
        guard let host = sessions.host(group: group), await host.role == .primary else { return nil }
        return try await publicIngest(request, actor: actor, group: group)
    }

    /// An RTMP publisher's media for `session` of `group` (its stream key verified), as the
    /// session's host: run here when this node is the primary, else streamed to the primary's
    /// internal ingest route, riding through a change of primary either way. Answers as the
    /// HTTP ingest would.
    func rtmpIngest(group: String, session: String, body: RequestBody) async throws -> Response {
        var head = HTTPRequestHead(
            version: .http1_1,
            method: .POST,
            uri: "/internal/v1/groups/\(group)/live/ingest?session=\(session)"
        )
        head.headers.add(name: "content-type", value: "video/mp2t")
        let request = Request(head: head, isHTTP2: false, remoteAddress: nil, body: body)
        let elsewhere: @Sendable (Bool) async throws -> Response = { afterLoss in
            try await cluster.forwardIngest(request, group: group, afterLoss: afterLoss) {
                guard let host = sessions.host(group: group), await host.role == .primary else { return nil }
                return try await rtmpIngest(group: group, session: session, body: body)
            }
        }
        guard let host = sessions.host(group: group), await host.role == .primary else {
            return try await elsewhere(false)
        }
        guard await host.info.id == session else { throw Self.staleKey }
        return try await runIngest(on: host, group: group, user: await host.info.host, body: body) {
            try await elsewhere(true)
        }
    }

    /// A stream key of a session that is no longer the group's live one.
    static var staleKey: APIError {
        APIError.notFound("the stream key's session is not live (it ended)", code: "no_live_session")
    }

    /// Feeds `body` into the primary `host` until it ends: refused while another ingest runs,
    /// cut when it exceeds `--max-ingest-bitrate` or the session ends.
    /// `lostPrimary` takes the rest of the body when this node stops being the primary
    /// mid-stream (a failover, a hand-over, a freeze it woke from).
    func runIngest(
        on host: SessionHost,
        group: String,
        user: String,
        body: RequestBody,
        lostPrimary: @Sendable () async throws -> Response
    ) async throws -> Response {
        guard await host.state.phase != .ended else { throw LiveError.notLive.apiError }
        guard await host.ingestStarted() else {
            throw APIError.conflict("another ingest is already running for this session", code: "ingest_busy")
        }
        var bytes = 0
        var rate = IngestRateGuard(bitsPerSecond: maxIngestBitrate)
        let began = ContinuousClock.now
        do {
            for try await chunk in body {
                bytes += chunk.readableBytes
                let elapsed = UInt64(max(0, (ContinuousClock.now - began).nanoseconds))
                guard rate.admit(bytes: chunk.readableBytes, atNanoseconds: elapsed) else {
                    refused("ingest_bitrate")
                    logger.error(
                        "ingest cut: over the bitrate limit",
                        metadata: [
                            "live.group": "\(group)", "live.user": "\(user)",
                            "ingest.limit_bps": "\(maxIngestBitrate)", "ingest.bytes": "\(bytes)",
                        ]
                    )
                    throw APIError(
                        .tooManyRequests,
                        "ingest_bitrate",
                        "the ingest exceeds \(maxIngestBitrate) bit/s averaged over "
                            + "\(IngestRateGuard.windowSeconds) s; lower the encoder's bitrate"
                    )
                }
                try await host.ingest(chunk)
            }
        } catch ReplicaRefusal.notPrimary(_) {
            await host.ingestEnded()
            logger.notice("ingest: this node is no longer the primary; the rest goes to the new one")
            return try await lostPrimary()
        } catch {
            await host.ingestEnded()
            throw error
        }
        await host.ingestEnded()
        return .json(["bytes": bytes])
    }
}
