import Crypto
import Foundation

/// Signs node-to-node requests as a node would (`Qunbo-Peer-Auth`, ARCHITECTURE.md), written
/// again here from the documented format rather than shared with the node, so a test that signs
/// with it checks the format too.
struct PeerSigner {
    let secret: String
    var node = "n9"

    /// The header value for `method uri` at `timestamp` (unix ms, default now) with `nonce`
    /// (32 hex digits, default random).
    func header(_ method: String, _ uri: String, timestamp: Int64? = nil, nonce: String? = nil) -> String {
        let ts = timestamp ?? Int64((Date().timeIntervalSince1970 * 1000).rounded())
        let nonce = nonce ?? (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Data(secret.utf8)),
            salt: Data("qunbo".utf8),
            info: Data("qunbo peer request auth v1".utf8),
            outputByteCount: 32
        )
        let message = "v1\n\(node)\n\(ts)\n\(nonce)\n\(method)\n\(uri)"
        let sig = HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: key)
        let hex = sig.map { String(format: "%02x", $0) }.joined()
        return "v1 node=\(node),ts=\(ts),nonce=\(nonce),sig=\(hex)"
    }
}
