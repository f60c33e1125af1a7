import Foundation
import JWTKit

/// Verifies tokens: HS256 JWTs. One verifier per secret: client tokens (`--auth-secret`) and
/// operator tokens (`--cluster-secret`) are checked by different instances (`AccessControl`).
///
/// The header's `alg` is checked before jwt-kit sees the token, so `none`, `HS512`, `RS256`
/// and friends are refused outright whatever key lookup jwt-kit would do.
public struct TokenVerifier: Sendable {
    private let keys: JWTKeyCollection?
    private let verified = VerifiedTokenCache()
    /// The setting whose absence leaves this verifier without a key, for the 401's message.
    private let secretName: String
    private let lifetime: TokenLifetime

    /// RFC 7518 §3.2: an HS256 key must be at least as long as the hash, 32 bytes.
    public static let minimumSecretBytes = 32

    /// A verifier for `secret`; with no secret (or one shorter than 32 bytes, which config
    /// validation refuses before this point) every token is refused (401).
    public init(secret: String?, secretName: String = "--auth-secret", lifetime: TokenLifetime = TokenLifetime()) async {
        self.secretName = secretName
        self.lifetime = lifetime
        guard let secret, secret.utf8.count >= Self.minimumSecretBytes else {
            keys = nil
            return
        }
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.keys = keys
    }

    /// The bearer token of a request: `Authorization: Bearer` or `?access_token=`.
    public static func token(of request: Request) -> String? {
        if let header = request.headers.first(name: "Authorization") {
            let parts = header.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" { return String(parts[1]) }
            return nil
        }
        return request.query["access_token"]
    }

    /// Verifies `token` and returns who it names; throws the API's 401 otherwise.
    public func verify(_ token: String) async throws(APIError) -> Principal {
        guard let keys else { throw .unauthorized("this node has no \(secretName); these tokens cannot be checked") }
        guard token.utf8.count <= 8192 else { throw .unauthorized("token too long") }
        if let principal = verified.principal(for: token) { return principal }
        guard Self.headerAlgorithm(of: token) == "HS256" else {
            throw .unauthorized("token must be an HS256 JWT")
        }
        let claims: AccessClaims
        do {
            claims = try await keys.verify(token, as: AccessClaims.self)
        } catch let error as JWTError {
            switch error.errorType {
            case .claimVerificationFailure: throw .unauthorized("token expired or not yet valid")
            case .signatureVerificationFailed: throw .unauthorized("bad token signature")
            default: throw .unauthorized("invalid token")
            }
        } catch {
            throw .unauthorized("invalid token")
        }
        try lifetime.check(expires: claims.exp.value)
        let principal = Principal(
            user: claims.sub.value,
            name: claims.name,
            groups: claims.groups,
            isAdmin: claims.admin ?? false
        )
        verified.remember(token, .init(principal: principal, expires: claims.exp.value, notBefore: claims.nbf?.value))
        return principal
    }

    /// The `alg` of a compact JWT's header, nil if it does not parse.
    static func headerAlgorithm(of token: String) -> String? {
        guard let dot = token.firstIndex(of: "."), token[..<dot].utf8.count <= 1024 else { return nil }
        var base64 = token[..<dot].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let bytes = Data(base64Encoded: base64),
            let object = try? JSONSerialization.jsonObject(with: bytes) as? [String: Any]
        else { return nil }
        return object["alg"] as? String
    }
}

/// Mints tokens (the `qunbo token` command, the cluster scripts, tests).
public enum TokenMinter {
    public static func mint(secret: String, claims: AccessClaims) async throws -> String {
        guard secret.utf8.count >= TokenVerifier.minimumSecretBytes else {
            throw ConfigError.inconsistent("the secret must be at least 32 bytes (RFC 7518 §3.2)")
        }
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return try await keys.sign(claims)
    }
}
