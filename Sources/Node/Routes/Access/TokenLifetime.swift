import Foundation

/// Time rules of client tokens beyond jwt-kit's `exp`/`nbf` checks.
///
/// - Leeway: `exp` and `nbf` are checked with 30 s of slack either way, for clocks that differ
///   a little between the host app that mints tokens and the nodes.
/// - Maximum lifetime (`--max-token-ttl`): a token whose `exp` lies further than that (plus the
///   leeway) from now is 401, however it was signed. The rule reads `exp − now`, not
///   `exp − iat`: `iat` is optional in the contract and a minter could set it to anything, while
///   `exp − now` bounds what matters, how long a leaked token stays usable from now on.
public struct TokenLifetime: Sendable, Equatable {
    /// Clock slack on `exp` and `nbf`, seconds.
    public static let leewaySeconds: TimeInterval = 30

    /// The longest remaining lifetime accepted. Default 24 h (`NodeConfig.maxTokenTTL`).
    public var maxTTL: Duration

    public init(maxTTL: Duration = .seconds(24 * 3600)) {
        self.maxTTL = maxTTL
    }

    /// Throws the API's 401 when `expires` is too far ahead of `now`.
    public func check(expires: Date, now: Date = Date()) throws(APIError) {
        let limit = TimeInterval(maxTTL.components.seconds) + Self.leewaySeconds
        guard expires.timeIntervalSince(now) <= limit else {
            throw .unauthorized("token lifetime exceeds this node's maximum (\(maxTTL.components.seconds) s)")
        }
    }
}
