import Foundation
import Testing

@testable import Node

@Suite("Token leeway and maximum lifetime")
struct TokenLifetimeTests {
    static let secret = "test-secret-0123456789-abcdefghijklmnop"

    static func token(exp: TimeInterval, nbf: TimeInterval? = nil) async throws -> String {
        try await TokenMinter.mint(
            secret: secret,
            claims: AccessClaims(
                sub: "u",
                exp: Date().addingTimeInterval(exp),
                nbf: nbf.map { Date().addingTimeInterval($0) }
            )
        )
    }

    @Test("exp and nbf get 30 s of clock leeway, no more")
    func leeway() async throws {
        let verifier = await TokenVerifier(secret: Self.secret)
        _ = try await verifier.verify(try await Self.token(exp: -10))
        _ = try await verifier.verify(try await Self.token(exp: 3600, nbf: 10))
        await #expect(throws: APIError.self) { try await verifier.verify(try await Self.token(exp: -60)) }
        await #expect(throws: APIError.self) { try await verifier.verify(try await Self.token(exp: 3600, nbf: 60)) }
    }

    @Test("a token claiming more than --max-token-ttl from now is 401")
    func maximumLifetime() async throws {
        let verifier = await TokenVerifier(secret: Self.secret, lifetime: TokenLifetime(maxTTL: .seconds(3600)))
        _ = try await verifier.verify(try await Self.token(exp: 3600))
        do {
            _ = try await verifier.verify(try await Self.token(exp: 2 * 3600))
            Issue.record("a 2 h token passed a 1 h maximum")
        } catch let error as APIError {
            #expect(error.status == .unauthorized && error.message.contains("lifetime"))
        }
        let defaults = await TokenVerifier(secret: Self.secret)
        _ = try await defaults.verify(try await Self.token(exp: 23 * 3600))
        await #expect(throws: APIError.self) { try await defaults.verify(try await Self.token(exp: 25 * 3600)) }
    }
}
