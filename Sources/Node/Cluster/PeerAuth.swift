import Crypto
import Foundation
import Live
import NIOHTTP1

/// Why a peer request was refused. The raw value is the metric label and the error code.
public enum PeerAuthRefusal: String, Error, Sendable, CaseIterable {
    /// No `Qunbo-Peer-Auth` header on a route only peers may call.
    case missing
    /// The header does not parse: wrong version, field, length or encoding.
    case malformed
    /// The signature does not match: forged, altered, or signed with another secret.
    case badSignature = "bad_signature"
    /// The timestamp is more than the window (30 s) away from this node's clock.
    case skewed
    /// The nonce was already used within the window.
    case replayed
    /// Signed before this process started: its replay cache cannot know the nonce (a restart
    /// empties it), so the request could be a replay of one the previous process accepted.
    case beforeStart = "before_start"
    /// The replay cache is full; the request may be retried (answered 503, not 401).
    case busy
    /// Mutual TLS is configured and the connection presented no verified client certificate.
    case noClientCertificate = "no_client_certificate"
}

/// Per-request authentication of node-to-node HTTP requests, replacing the static secret header.
///
/// Every request a node sends to a peer carries
///
///     Qunbo-Peer-Auth: v1 node=<sender id>,ts=<unix ms>,nonce=<32 hex>,sig=<64 hex>
///
/// where `sig` is HMAC-SHA256, keyed by a key derived from the cluster secret
/// (`ClusterSecret.peerKey`), over `v1`, the sender's id, the timestamp, the nonce, the method and
/// the request target (path with query, as sent). The receiver refuses (401, nothing changed) a
/// bad signature, a timestamp more than 30 s from its clock, and a nonce it has seen within that
/// window (`NonceCache`). So a captured request cannot be replayed, redirected to another route
/// or method, or attributed to another node, and the secret itself never travels.
///
/// What it does not cover: the body and the other headers. With TLS between nodes (any node with
/// `--tls-cert`) the channel gives their integrity and secrecy, and the HMAC adds who is calling.
/// In clear-text mode an on-path attacker could rewrite the body of a request in flight; covering
/// a body digest would not make clear-text mode safe, because the same attacker reads the client
/// tokens relayed in those requests. Bodies are streamed (links, ingest) and the head is signed
/// before they exist, so a digest would cover only some requests; clear text is for loopback and
/// trusted networks, TLS is the answer everywhere else.
public struct PeerAuth: Sendable {
    public static let header = "qunbo-peer-auth"
    /// Longest header value accepted: 64-byte id plus fixed fields is under 200 bytes.
    static let maxHeaderBytes = 256
    private static let version = "v1"

    /// This node's id, put in the requests it signs.
    public let nodeID: String
    private let key: SymmetricKey
    let nonces: NonceCache
    /// Unix time in ms; the wall clock in production, a fixed one in tests.
    private let clock: @Sendable () -> Int64
    /// Requests stamped earlier are refused (`beforeStart`): the replay cache starts empty, so
    /// without this a request captured up to 30 s before a restart could be replayed after it.
    /// A peer whose clock is behind ours is refused for that long after we start, then retries.
    let acceptsFrom: Int64

    /// - Parameter acceptsFrom: unix ms; default now (the process's start).
    init(
        secret: ClusterSecret,
        nodeID: String,
        nonces: NonceCache = NonceCache(),
        acceptsFrom: Int64? = nil,
        clock: @escaping @Sendable () -> Int64 = { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
    ) {
        self.nodeID = nodeID
        self.key = secret.peerKey
        self.nonces = nonces
        self.clock = clock
        self.acceptsFrom = acceptsFrom ?? clock()
    }

    /// The header value for a request `method uri` sent now.
    func sign(method: HTTPMethod, uri: String, timestamp: Int64? = nil, nonce: NonceCache.Nonce? = nil) -> String {
        var random = SystemRandomNumberGenerator()
        let nonce = nonce ?? NonceCache.Nonce(high: random.next(), low: random.next())
        let ts = timestamp ?? clock()
        let nonceHex = Self.hex(nonce)
        let sig = signature(node: nodeID, ts: ts, nonceHex: nonceHex, method: method, uri: uri)
        return "\(Self.version) node=\(nodeID),ts=\(ts),nonce=\(nonceHex),sig=\(Self.hex(sig))"
    }

    /// The sending node's id if `header` authenticates `method uri`, else why not. A fresh
    /// nonce is remembered (so the same header passes once).
    func verify(method: HTTPMethod, uri: String, header: String?) -> Result<String, PeerAuthRefusal> {
        guard let header else { return .failure(.missing) }
        guard let parsed = Self.parse(header) else { return .failure(.malformed) }
        let now = clock()
        guard abs(now - parsed.ts) <= nonces.settings.window else { return .failure(.skewed) }
        let expected = signature(node: parsed.node, ts: parsed.ts, nonceHex: parsed.nonceHex, method: method, uri: uri)
        guard ClusterSecret.constantTimeEquals(expected, parsed.sig) else { return .failure(.badSignature) }
        guard parsed.ts >= acceptsFrom else { return .failure(.beforeStart) }
        switch nonces.insert(parsed.nonce, timestamp: parsed.ts, now: now) {
        case .fresh: return .success(parsed.node)
        case .replayed: return .failure(.replayed)
        case .full: return .failure(.busy)
        }
    }

    private func signature(node: String, ts: Int64, nonceHex: String, method: HTTPMethod, uri: String) -> [UInt8] {
        let message = "\(Self.version)\n\(node)\n\(ts)\n\(nonceHex)\n\(method.rawValue)\n\(uri)"
        return Array(HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: key))
    }

    struct Parsed {
        var node: String
        var ts: Int64
        var nonce: NonceCache.Nonce
        var nonceHex: String
        var sig: [UInt8]
    }

    /// Strict parse: `v1 node=ID,ts=DIGITS,nonce=32HEX,sig=64HEX`, in that order, nothing else.
    static func parse(_ header: String) -> Parsed? {
        guard header.utf8.count <= maxHeaderBytes, header.hasPrefix(version + " ") else { return nil }
        let fields = header.dropFirst(version.count + 1).split(separator: ",", omittingEmptySubsequences: false)
        guard fields.count == 4 else { return nil }
        func value(_ i: Int, _ name: String) -> Substring? {
            let field = fields[i]
            guard field.hasPrefix(name + "=") else { return nil }
            return field.dropFirst(name.count + 1)
        }
        guard let node = value(0, "node"), IdentifierRule.user.accepts(String(node)),
            let tsText = value(1, "ts"), (1...16).contains(tsText.count), tsText.allSatisfy(\.isASCII),
            tsText.allSatisfy(\.isNumber), let ts = Int64(tsText),
            let nonceText = value(2, "nonce"), nonceText.count == 32, let nonceBytes = bytes(hex: nonceText),
            let sigText = value(3, "sig"), sigText.count == 64, let sig = bytes(hex: sigText)
        else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for b in nonceBytes[0..<8] { high = high << 8 | UInt64(b) }
        for b in nonceBytes[8..<16] { low = low << 8 | UInt64(b) }
        return Parsed(
            node: String(node),
            ts: ts,
            nonce: NonceCache.Nonce(high: high, low: low),
            nonceHex: String(nonceText),
            sig: sig
        )
    }

    static func hex(_ nonce: NonceCache.Nonce) -> String {
        var bytes: [UInt8] = []
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: nonce.high >> shift))
        }
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: nonce.low >> shift))
        }
        return hex(bytes)
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Lower-case hex only (what `sign` writes), so each signature has one spelling.
    static func bytes(hex: Substring) -> [UInt8]? {
        guard hex.utf8.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            default: return nil
            }
        }
        var out: [UInt8] = []
        var it = hex.utf8.makeIterator()
        while let h = it.next() {
            guard let hi = nibble(h), let l = it.next(), let lo = nibble(l) else { return nil }
            out.append(hi << 4 | lo)
        }
        return out
    }
}
