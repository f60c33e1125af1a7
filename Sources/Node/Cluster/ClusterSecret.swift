import Crypto
import Foundation

/// The cluster secret: the root of node-to-node authentication and of operator tokens.
///
/// It never travels. Peers prove they hold it with a per-request HMAC (`PeerAuth`) keyed by a
/// key derived from it (HKDF-SHA256, so a peer signature can never double as a JWT signature or
/// the other way round), and operators present JWTs signed with the secret itself (HS256, so
/// any JWT library can mint them from the same secret).
public struct ClusterSecret: Sendable {
    /// RFC 7518 §3.2: an HS256 key must be at least as long as the hash; the peer key is derived
    /// from it too, and a shorter secret is brute-forceable from one captured signature.
    public static let minimumBytes = 32

    private let bytes: [UInt8]

    /// The secret, or nil when it is missing, empty or shorter than 32 bytes (config validation
    /// refuses those at start, with a one-line error, before this point).
    public init?(_ secret: String?) {
        guard let secret, secret.utf8.count >= Self.minimumBytes else { return nil }
        bytes = Array(secret.utf8)
    }

    /// The secret as given: the HS256 key of operator tokens.
    public var value: String { String(decoding: bytes, as: UTF8.self) }

    /// The key of peer request signatures: HKDF-SHA256 of the secret with a fixed label.
    var peerKey: SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: bytes),
            salt: Data("qunbo".utf8),
            info: Data("qunbo peer request auth v1".utf8),
            outputByteCount: 32
        )
    }

    /// Whether `a` and `b` are equal, in time that depends only on their lengths, never on
    /// where they differ; every byte of the longer one is looked at, and the length difference
    /// counts in full (the old comparison kept only its low byte: the secret plus 256 bytes
    /// passed).
    static func constantTimeEquals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        let x = Array(a)
        let y = Array(b)
        var difference: UInt = UInt(bitPattern: x.count ^ y.count)
        for i in 0..<max(x.count, y.count) {
            let l = i < x.count ? x[i] : 0
            let r = i < y.count ? y[i] : 0
            difference |= UInt(l ^ r)
        }
        return difference == 0
    }
}
