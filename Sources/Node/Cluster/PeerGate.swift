import CoreMetrics
import Logging
import NIOHTTP1

/// The edge check every request passes before it is routed: who may use node-to-node routes and
/// headers.
///
/// - A request carrying `Qunbo-Peer-Auth` must verify (`PeerAuth`), or it is refused (401; 503
///   when the replay cache is full) before any handler runs, so nothing changes. Once verified,
///   `Request.peer` names the sending node and its internal headers count.
/// - Without it, `/internal/*` is refused (401), and every internal request header
///   (`Qunbo-*` but `Qunbo-Route`, which clients may send) is removed: a client cannot claim
///   a request was already forwarded (which would skip forwarding `start` to the group's owner
///   and let two lives of one group race on two nodes) or pass any other node-only hint.
/// - With mutual TLS configured, a peer request must also come over a connection whose client
///   certificate verified against `--peer-ca`.
public struct PeerGate: Sendable {
    static let internalPrefix = "/internal/"
    /// `Qunbo-*` request headers clients may send.
    static let clientHeaders: Set<String> = ["qunbo-route"]

    let auth: PeerAuth?
    let requireClientCertificate: Bool
    private let refusals: [PeerAuthRefusal: Counter]
    private let stripped: Counter
    private let logger: Logger

    init(auth: PeerAuth?, requireClientCertificate: Bool, metricsFactory: any MetricsFactory, logger: Logger) {
        self.auth = auth
        self.requireClientCertificate = requireClientCertificate
        var refusals: [PeerAuthRefusal: Counter] = [:]
        for reason in PeerAuthRefusal.allCases {
            refusals[reason] = Counter(
                label: "qunbo_peer_auth_refused_total",
                dimensions: [("reason", reason.rawValue)],
                factory: metricsFactory
            )
        }
        self.refusals = refusals
        stripped = Counter(label: "qunbo_peer_internal_headers_dropped_total", factory: metricsFactory)
        self.logger = logger
    }

    /// What node-to-node handlers throw for a request that is not a verified peer's. The gate
    /// refuses those before any handler runs; handlers check again so a route registered
    /// outside `/internal/` by mistake still cannot be called by clients.
    static let notAPeer = APIError(.unauthorized, "peer_missing", "node-to-node routes need a peer signature")

    /// Whether a request header is one only authenticated peers may send.
    static func isInternalHeader(_ name: String) -> Bool {
        guard let first = name.utf8.first, first | 0x20 == UInt8(ascii: "q") else { return false }
        let lower = name.lowercased()
        return lower.hasPrefix("qunbo-") && !clientHeaders.contains(lower)
    }

    /// Admits `request` (marking it as a peer's, or stripping internal headers), or says why not.
    func admit(_ request: inout Request) -> APIError? {
        let header = request.headers.first(name: PeerAuth.header)
        if header != nil || request.path.hasPrefix(Self.internalPrefix) {
            guard let auth else { return refuse(.badSignature, request, "this node has no cluster secret") }
            switch auth.verify(method: request.method, uri: request.uri, header: header) {
            case .failure(let reason):
                return refuse(reason, request, nil)
            case .success(let node):
                if requireClientCertificate && !request.clientCertificateVerified {
                    return refuse(.noClientCertificate, request, nil)
                }
                request.peer = node
                return nil
            }
        }
        // Checked before collecting: almost no client request carries one, and this runs on
        // every request.
        guard request.headers.contains(where: { Self.isInternalHeader($0.name) }) else { return nil }
        stripped.increment()
        for name in Set(request.headers.map { $0.name }.filter(Self.isInternalHeader)) {
            request.headers.remove(name: name)
        }
        return nil
    }

    private func refuse(_ reason: PeerAuthRefusal, _ request: Request, _ detail: String?) -> APIError {
        refusals[reason]?.increment()
        logger.notice(
            "peer request refused",
            metadata: [
                "peer.refusal": "\(reason.rawValue)", "http.path": "\(request.path)",
                "net.peer": "\(request.remoteAddress.map { "\($0)" } ?? "-")",
            ]
        )
        let message = detail ?? Self.messages[reason] ?? "peer authentication failed"
        if reason == .busy {
            return APIError(.serviceUnavailable, "peer_auth_busy", message, headers: [("Retry-After", "1")])
        }
        return APIError(.unauthorized, "peer_\(reason.rawValue)", message)
    }

    private static let messages: [PeerAuthRefusal: String] = [
        .missing: "node-to-node routes need a Qunbo-Peer-Auth signature",
        .malformed: "malformed Qunbo-Peer-Auth header",
        .badSignature: "bad peer signature",
        .skewed: "peer request timestamp too far from this node's clock (30 s)",
        .replayed: "peer request nonce already used",
        .beforeStart: "peer request signed before this node started; sign it again",
        .busy: "too many peer requests to check for replays; retry",
        .noClientCertificate: "node-to-node requests need a verified client certificate (mutual TLS)",
    ]

    static let help: [String: String] = [
        "qunbo_peer_auth_refused_total":
            "Requests refused at the edge for failing node-to-node authentication, by reason.",
        "qunbo_peer_internal_headers_dropped_total":
            "Client requests whose internal (node-to-node) headers were removed at the edge.",
    ]
}
