import Crypto
import Foundation
import Live

/// RTMP stream keys: `<group>.<session>.<mac>`, where `mac` is 32 base64url characters of
/// HMAC-SHA256 over the group and session, keyed by a key derived from `--auth-secret`.
///
/// Stateless, so any node verifies a key without asking anyone (a publisher may connect to any
/// node, as with the HTTP ingest), and a key names exactly one session: once that session has
/// ended, its key is refused because the group's live session is another one, or none.
/// The MAC is keyed by the client-token secret because the key is a credential of the same
/// kind as a host's token (the platform that mints tokens can start a session and get the key
/// anyway); a label keeps the two uses of the secret apart.
struct StreamKey: Sendable {
    private let key: SymmetricKey

    /// The longest key accepted, in bytes: two ids and the MAC, with room to spare.
    static let maxLength = 2 * IdentifierRule.maxLength + 48

    init(secret: String) {
        key = SymmetricKey(
            data: HMAC<SHA256>.authenticationCode(
                for: Data("qunbo rtmp stream key v1".utf8),
                using: SymmetricKey(data: Data(secret.utf8))
            )
        )
    }

    /// The key of `session` in `group`.
    func make(group: String, session: String) -> String {
        "\(group).\(session).\(mac(group: group, session: session))"
    }

    /// The group and session a key names, or nil when it is malformed or its MAC is wrong.
    func verify(_ streamKey: String) -> (group: String, session: String)? {
        guard streamKey.utf8.count <= Self.maxLength else { return nil }
        let parts = streamKey.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, IdentifierRule.group.accepts(String(parts[0])),
            IdentifierRule.idempotencyKey.accepts(String(parts[1]))
        else { return nil }
        let (group, session) = (String(parts[0]), String(parts[1]))
        let expected = mac(group: group, session: session)
        guard ClusterSecret.constantTimeEquals(Array(expected.utf8), Array(parts[2].utf8)) else { return nil }
        return (group, session)
    }

    private func mac(group: String, session: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Data("\(group)\n\(session)".utf8), using: key)
        let text = Data(code).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
        return String(text.prefix(32))
    }
}
