import Foundation
import Live
import NIOCore
import NIOHTTP1

/// A write as it travels between nodes: a node that is not the session's primary sends the
/// decided-upon command (already parsed and authenticated there) to the primary over the
/// internal, cluster-authenticated route, not the client's HTTP request with a trust header.
struct SessionWriteRequest: Codable, Sendable {
    var command: LiveCommand
    var actor: LiveActor
    /// Milliseconds since the Unix epoch at the node that took the write.
    var now: Int64
}

/// What a write produced, at the primary: the event's seq or the likes total, and for the end
/// the ended session (the `DELETE` answer).
struct SessionWriteAnswer: Codable, Sendable {
    var seq: UInt64?
    var likes: Int64?
    var session: SessionJSON?
    /// A grab: what it gave (the first grab's amount when repeated).
    var amount: Int64?
    var currency: String?
    /// The write had been logged before (a retry, a second grab or click): answered, not applied.
    var repeated: Bool?

    init(_ result: SessionHost.WriteResult, session: SessionJSON? = nil) {
        switch result {
        case .logged(let seq, let event, let repeated):
            self.seq = seq
            self.repeated = repeated ? true : nil
            if let event, event.type == .redpacketGrab {
                amount = event.amount
                currency = event.currency
            }
        case .likes(let total): self.likes = total
        }
        self.session = session
    }
}

/// The session a route writes to: held here as primary, or at another node.
enum SessionHandle: Sendable {
    case local(SessionHost)
    case remote(node: String, address: String)
}

extension SessionRouter {
    static let writeRoute = "/internal/v1/groups/:g/live/write"

    /// Runs `command` by `actor` on the group's session, at its primary: here, or sent there
    /// (following hints and retrying through a failover for up to `failoverWait`). The one call
    /// every write route makes.
    func write(group: String, command: LiveCommand, actor: LiveActor) async throws -> SessionWriteAnswer {
        // Below --min-free-disk this node takes no new writes (507); the end still goes through.
        if !SessionHost.isEnd(command), sessions.diskSpace.isLow {
            sessions.diskSpace.refused()
            throw sessions.diskSpace.refusal
        }
        let deadline = ContinuousClock.now + settings.failoverWait
        let request = SessionWriteRequest(command: command, actor: actor, now: LiveSessions.nowMillis())
        var hint: String?
        while true {
            switch try await primary(group: group, hint: hint) {
            case .local(let host)?:
                do {
                    return try await Self.runLocally(request, on: host, sessions: sessions)
                } catch ReplicaRefusal.notPrimary(let primary) {
                    // Never applied here: safe to send elsewhere.
                    hint = primary
                }
            case .remote(let node, let address)?:
                metrics.writesForwarded.increment()
                hint = nil
                let epoch = await knownEpoch(group: group)
                let outcome = await watchingForNewPrimary(
                    group: group,
                    node: node,
                    epoch: epoch,
                    superseded: SendOutcome.unreachable,
                    send: { await self.send(request, group: group, to: address) }
                )
                switch outcome {
                case .answer(let answer):
                    return answer
                case .refused(let error):
                    throw error
                case .notPrimary(let primary):
                    hint = primary == node ? nil : primary
                    forget(group: group)
                case .unreachable:
                    forget(group: group)
                }
            case nil:
                // No primary known and this copy's log is stopped: most likely every copy's disk
                // is full. Answer 507/503 now rather than wait out an election that cannot happen.
                if let host = sessions.host(group: group), let failure = await host.storageFailure {
                    throw failure.apiError
                }
                hint = nil
                forget(group: group)
            }
            guard ContinuousClock.now < deadline else {
                throw APIError.unavailable("no primary is reachable for this session; retry", code: "no_primary")
            }
            try await Task.sleep(for: .milliseconds(25))
        }
    }

    /// Where the group's primary is: here, at `hint`, or found by a lookup (404 when there is
    /// certainly no live session); nil while it is unknown (an election).
    private func primary(group: String, hint: String?) async throws -> SessionHandle? {
        if let host = sessions.host(group: group), await host.role == .primary { return .local(host) }
        let target: String?
        if let hint, hint != nodeID {
            target = hint
        } else {
            let (location, certain) = await lookup(group: group, needPrimary: true)
            if location == nil, certain {
                throw APIError.notFound("no live session in group \(group)", code: "no_live_session")
            }
            target = location?.primary == nodeID ? nil : location?.primary
        }
        guard let target, let address = address(of: target) else { return nil }
        return .remote(node: target, address: address)
    }

    /// Runs a write on the primary held here. Domain refusals become API errors; a change of
    /// primary before the commit is `503 outcome_unknown`, no majority in time `503 no_quorum`
    /// (retry either with the same id).
    static func runLocally(
        _ request: SessionWriteRequest,
        on host: SessionHost,
        sessions: LiveSessions
    ) async throws -> SessionWriteAnswer {
        do {
            let result = try await host.write(request.command, by: request.actor, now: request.now)
            switch request.command {
            case .end: await host.flushRecording()
            case .share, .unshare: break  // the share route needs the session: its id, title, record
            default: return SessionWriteAnswer(result)
            }
            return SessionWriteAnswer(result, session: await sessions.json(await host.state, host: host))
        } catch let error as LiveError {
            throw error.apiError
        } catch let refusal as ReplicaRefusal {
            // Not primary (any more): the caller retries at the primary.
            if case .notPrimary = refusal { throw refusal }
            throw refusal.apiError()
        }
    }

    enum SendOutcome: Sendable {
        case answer(SessionWriteAnswer)
        /// The primary refused the write itself (a domain or API error): the client's answer.
        case refused(APIError)
        case notPrimary(String?)
        case unreachable
    }

    func send(_ request: SessionWriteRequest, group: String, to address: String) async -> SendOutcome {
        guard let body = try? JSONCoding.encoder.encode(request) else { return .unreachable }
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        guard
            let response = try? await peers.request(
                .POST,
                "/internal/v1/groups/\(group)/live/write",
                to: address,
                headers: headers,
                body: ByteBuffer(bytes: body),
                timeout: settings.forwardTimeout
            )
        else { return .unreachable }
        let bytes = Data(response.body.readableBytesView)
        if response.status == .serviceUnavailable, response.headers.first(name: "qunbo-refusal") == "not_primary" {
            return .notPrimary(response.headers.first(name: Self.primaryHeader))
        }
        if response.status == .ok, let answer = try? JSONCoding.decoder.decode(SessionWriteAnswer.self, from: bytes) {
            return .answer(answer)
        }
        struct Envelope: Decodable {
            struct Inner: Decodable {
                var code: String
                var message: String
            }
            var error: Inner
        }
        guard let envelope = try? JSONCoding.decoder.decode(Envelope.self, from: bytes) else { return .unreachable }
        var extra: [(String, String)] = []
        if let retry = response.headers.first(name: "retry-after") { extra.append(("Retry-After", retry)) }
        return .refused(APIError(response.status, envelope.error.code, envelope.error.message, headers: extra))
    }

    /// The internal write route: the command runs here if this node is the group's primary,
    /// else `503 not_primary` with a hint. Only authenticated peers (`PeerGate`) may call it.
    func handleWrite(_ request: Request) async throws -> Response {
        guard request.peer != nil else {
            throw PeerGate.notAPeer
        }
        let group = request.parameters["g"] ?? ""
        let body = try await request.body.collect(upTo: 1 << 20)
        guard let write = try? JSONCoding.decoder.decode(SessionWriteRequest.self, from: Data(body.readableBytesView))
        else { throw APIError.badRequest("malformed forwarded write") }
        guard let host = sessions.host(group: group), await host.role == .primary else {
            return Self.notPrimary(await sessions.host(group: group)?.primaryHint)
        }
        do {
            let answer = try await Self.runLocally(write, on: host, sessions: sessions)
            return .json(answer)
        } catch ReplicaRefusal.notPrimary(let hint) {
            return Self.notPrimary(hint)
        }
    }
}
