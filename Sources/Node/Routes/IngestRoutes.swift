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
            guard let host = sessions.host(group: group), await host.role == .primary else {
                if request.headers.first(name: SessionRouter.forwardedHeader) != nil {
                    return SessionRouter.notPrimary(await sessions.host(group: group)?.primaryHint)
                }
                return try await cluster.forwardIngest(request, group: group)
            }
            guard await actor.user == host.info.host else {
                throw APIError.forbidden("only the host who started the session may send its media", code: "not_host")
            }
            return try await runIngest(on: host, group: group, user: actor.user, body: request.body)
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
            return try await runIngest(on: host, group: group, user: await host.info.host, body: request.body)
        }
    }

    /// An RTMP publisher's media for `session` of `group` (its stream key verified), as the
    /// session's host: run here when this node is the primary, else streamed to the primary's
    /// internal ingest route. Answers as the HTTP ingest would.
    func rtmpIngest(group: String, session: String, body: RequestBody) async throws -> Response {
        if let host = sessions.host(group: group), await host.role == .primary {
            guard await host.info.id == session else { throw Self.staleKey }
            return try await runIngest(on: host, group: group, user: await host.info.host, body: body)
        }
        var head = HTTPRequestHead(
            version: .http1_1,
            method: .POST,
            uri: "/internal/v1/groups/\(group)/live/ingest?session=\(session)"
        )
        head.headers.add(name: "content-type", value: "video/mp2t")
        let request = Request(head: head, isHTTP2: false, remoteAddress: nil, body: body)
        return try await cluster.forwardIngest(request, group: group)
    }

    /// A stream key of a session that is no longer the group's live one.
    static var staleKey: APIError {
        APIError.notFound("the stream key's session is not live (it ended)", code: "no_live_session")
    }

    /// Feeds `body` into the primary `host` until it ends: refused while another ingest runs,
    /// cut when it exceeds `--max-ingest-bitrate` or the session ends.
    func runIngest(on host: SessionHost, group: String, user: String, body: RequestBody) async throws -> Response {
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
        } catch {
            await host.ingestEnded()
            throw error
        }
        await host.ingestEnded()
        return .json(["bytes": bytes])
    }
}
