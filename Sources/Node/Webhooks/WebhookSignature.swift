import Crypto
import Foundation

/// The `Qunbo-Signature` header of a webhook delivery (API.md, Webhooks), Stripe's scheme:
/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
///
/// The timestamp is inside the MAC so a captured delivery cannot be replayed later than the
/// receiver's tolerance; several `v1=` values may appear (a secret being rotated), and a
/// receiver accepts the delivery if any one matches. Receivers compare in constant time.
public struct WebhookSignature: Sendable, Equatable {
    /// Why a receiver refused a delivery.
    public enum Refusal: Error, Equatable, Sendable {
        /// No header, or one without `t=` or without any `v1=`.
        case malformed
        /// No `v1=` value matches the body under the secret.
        case mismatch
        /// `t` is further from the receiver's clock than its tolerance.
        case stale(seconds: Int64)
    }

    /// Seconds since the Unix epoch when the sender signed.
    public var timestamp: Int64
    /// The `v1` MACs, lower-case hex.
    public var signatures: [String]

    public init(timestamp: Int64, signatures: [String]) {
        self.timestamp = timestamp
        self.signatures = signatures
    }

    /// Signs `body` with `secret` at `timestamp`.
    public static func sign(body: some DataProtocol, secret: String, timestamp: Int64) -> WebhookSignature {
        WebhookSignature(timestamp: timestamp, signatures: [mac(body: body, secret: secret, timestamp: timestamp)])
    }

    /// The header value: `t=…,v1=…[,v1=…]`.
    public var header: String {
        (["t=\(timestamp)"] + signatures.map { "v1=\($0)" }).joined(separator: ",")
    }

    /// Parses a header value; unknown schemes (`v0=`, future `v2=`) are ignored, as Stripe's
    /// receivers do, so a sender can add a scheme without breaking old receivers.
    public static func parse(_ header: String?) throws(Refusal) -> WebhookSignature {
        guard let header, header.utf8.count <= 4_096 else { throw .malformed }
        var timestamp: Int64?
        var signatures: [String] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            let key = pair[0].trimmingCharacters(in: .whitespaces)
            let value = pair[1].trimmingCharacters(in: .whitespaces)
            switch key {
            case "t": timestamp = Int64(value)
            case "v1": signatures.append(value.lowercased())
            default: continue
            }
        }
        guard let timestamp, !signatures.isEmpty else { throw .malformed }
        return WebhookSignature(timestamp: timestamp, signatures: signatures)
    }

    /// Checks a delivery as a receiver must: the header parses, `t` is within `tolerance`
    /// seconds of `now`, and some `v1` equals the MAC of `t.body` (constant-time comparison).
    public static func verify(
        header: String?,
        body: some DataProtocol,
        secret: String,
        now: Int64,
        tolerance: Int64 = 300
    ) throws(Refusal) {
        let signature = try parse(header)
        let skew = now - signature.timestamp
        guard abs(skew) <= tolerance else { throw .stale(seconds: skew) }
        let expected = Array(mac(body: body, secret: secret, timestamp: signature.timestamp).utf8)
        guard signature.signatures.contains(where: { constantTimeEqual(Array($0.utf8), expected) }) else {
            throw .mismatch
        }
    }

    static func mac(body: some DataProtocol, secret: String, timestamp: Int64) -> String {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: Data(secret.utf8)))
        hmac.update(data: Data("\(timestamp).".utf8))
        hmac.update(data: Data(body))
        return hmac.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// Equal bytes, in time that depends only on the lengths.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
