import NIOCore
import NIOHTTP1

/// The broadcaster's ingest streamed to the session's primary, riding through a change of
/// primary: when the primary dies, freezes or steps down mid-stream, the forwarding node finds
/// the new one (for up to `failoverWait`, as writes do) and goes on streaming the rest of the
/// body there. The broadcaster sees a short stall, not a broken pipe; the chunks that were on
/// their way to the old primary are lost (media is not acknowledged), and the new primary's
/// pipeline starts again at the next keyframe.
extension SessionRouter {
    /// What one forwarding attempt ended with.
    private enum AttemptEnd {
        /// The primary answered (the ingest's end, or a refusal of the ingest itself).
        case answered(PeerResponse)
        /// The primary was lost (the stream broke, or it answered that it is not primary).
        case lost
    }

    /// Where the ingest goes now.
    private enum IngestTarget {
        case remote(String)
        /// This node is the primary now (it won the election): `local` runs the rest here.
        case local
    }

    /// Streams the broadcaster's body to the primary and relays its answer. `local` runs the
    /// rest of the ingest on this node when it is the primary now (nil when it is not after all).
    /// `afterLoss`: this node ran the ingest as primary and lost the role mid-stream.
    func forwardIngest(
        _ request: Request,
        group: String,
        afterLoss: Bool = false,
        local: (@Sendable () async throws -> Response?)? = nil
    ) async throws -> Response {
        let body = request.body
        var head = HTTPRequestHead(version: .http1_1, method: request.method, uri: request.uri)
        head.headers = forwardHeaders(request)
        var pending: ByteBuffer?
        var bodyEnded = false
        var attempts = 0
        while true {
            let address: String
            switch try await ingestPrimary(group: group, first: attempts == 0) {
            case .remote(let remote):
                address = remote
            case .local:
                if let answer = try await local?() { return answer }
                try await Task.sleep(for: .milliseconds(50))
                continue
            }
            attempts += 1
            if attempts == 1 && !afterLoss {
                metrics.writesForwarded.increment()
            } else {
                metrics.ingestsRerouted.increment()
            }
            var attemptHead = head
            attemptHead.headers.add(name: "host", value: address)
            let pipe = ChunkPipe()
            let attempt = Task { [attemptHead, peers] () -> AttemptEnd in
                defer { pipe.fail() }
                do {
                    let answer = try await peers.exchange(to: address) { outbound, _ in
                        try await outbound.write(.head(attemptHead))
                        while let chunk = await pipe.next() { try await outbound.write(.body(.byteBuffer(chunk))) }
                        try await outbound.write(.end(nil))
                    } receive: { inbound in
                        try await PeerResponse.collect(&inbound, limit: 1 << 20, from: address)
                    }
                    if answer.headers.first(name: "qunbo-refusal") == "not_primary" { return .lost }
                    return .answered(answer)
                } catch {
                    return .lost
                }
            }
            // This task reads the client's body (never a task that may be cancelled) and hands it
            // to the attempt; a chunk the attempt did not take is dropped.
            var broke = false
            while !bodyEnded {
                let chunk: ByteBuffer
                if let held = pending {
                    chunk = held
                    pending = nil
                } else {
                    guard let next = try await body.next() else {
                        bodyEnded = true
                        break
                    }
                    chunk = next
                }
                if await !pipe.send(chunk) {
                    broke = true
                    break
                }
            }
            if !broke { pipe.finish() }
            switch await attempt.value {
            case .answered(let answer):
                var response = Response(status: answer.status, body: .buffer(answer.body))
                if let type = answer.headers.first(name: "content-type") {
                    response.headers.add(name: "Content-Type", value: type)
                }
                return response
            case .lost:
                forget(group: group)
                guard !bodyEnded else {
                    throw APIError.unavailable(
                        "the primary went away at the end of the ingest; reconnect",
                        code: "primary_lost"
                    )
                }
                logger.notice(
                    "ingest: the primary was lost; going on at the new one",
                    metadata: ["live.group": "\(group)"]
                )
            }
        }
    }

    /// The address of the group's primary, waiting up to `failoverWait` while there is none
    /// (an election) or it is this node (a stale view: the local route found no primary here).
    private func ingestPrimary(group: String, first: Bool) async throws -> IngestTarget {
        let deadline = ContinuousClock.now + settings.failoverWait
        if !first { forget(group: group) }
        var (location, certain) = await lookup(group: group, needPrimary: true)
        while location?.primary == nil || location?.primary == nodeID, ContinuousClock.now < deadline {
            if location?.primary == nodeID, await sessions.host(group: group)?.role == .primary { return .local }
            forget(group: group)
            try await Task.sleep(for: .milliseconds(50))
            (location, certain) = await lookup(group: group, needPrimary: true)
        }
        guard let location else {
            if !certain { throw uncertain(group) }
            throw APIError.notFound("no live session in group \(group)", code: "no_live_session")
        }
        guard let primary = location.primary, primary != nodeID, let address = address(of: primary) else {
            throw APIError.unavailable("no primary is reachable for this session; retry", code: "no_primary")
        }
        return .remote(address)
    }
}
