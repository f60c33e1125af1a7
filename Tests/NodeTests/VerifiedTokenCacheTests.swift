import Foundation
import Testing

@testable import Node

@Suite("Verified-token cache")
struct VerifiedTokenCacheTests {
    static let ann = Principal(user: "ann", name: nil, groups: ["g": .member], isAdmin: false)

    @Test("a remembered token answers only while its time claims hold")
    func timeClaimsRecheckedOnHit() {
        let cache = VerifiedTokenCache()
        let now = Date(timeIntervalSince1970: 1_000_000)
        cache.remember(
            "t1",
            .init(principal: Self.ann, expires: now + 60, notBefore: now - 1)
        )
        #expect(cache.principal(for: "t1", now: now) == Self.ann)
        #expect(cache.principal(for: "t1x", now: now) == nil)
        #expect(cache.principal(for: "t1", now: now + 61) == nil, "expired: full verification must answer")
        #expect(cache.count == 0, "an expired entry is dropped")
        cache.remember("t2", .init(principal: Self.ann, expires: now + 60, notBefore: now + 10))
        #expect(cache.principal(for: "t2", now: now) == nil, "not yet valid")
    }

    @Test("the cache stays within its capacity")
    func bounded() {
        let cache = VerifiedTokenCache(capacity: 100)
        let later = Date().addingTimeInterval(3600)
        for i in 0..<1_000 { cache.remember("t\(i)", .init(principal: Self.ann, expires: later, notBefore: nil)) }
        #expect(cache.count <= 100)
        #expect(cache.principal(for: "t999") == Self.ann)
    }

    @Test("a verified token verifies again from the cache; a tampered copy still fails")
    func verifierUsesCache() async throws {
        let verifier = await TokenVerifier(secret: TokenVerifierTests.secret)
        let token = TokenVerifierTests.handmade(
            header: #"{"alg":"HS256","typ":"JWT"}"#,
            payload: #"{"sub":"bob","groups":{"g":"member"},"exp":\#(TokenVerifierTests.future)}"#,
            signWith: TokenVerifierTests.secret
        )
        let first = try await verifier.verify(token)
        let second = try await verifier.verify(token)
        #expect(first == second && first.user == "bob")
        // A signature character well inside the MAC (the last one also holds padding bits).
        var bytes = Array(token.utf8)
        bytes[bytes.count - 5] = bytes[bytes.count - 5] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let tampered = String(decoding: bytes, as: UTF8.self)
        await #expect(throws: APIError.self) { try await verifier.verify(tampered) }
    }
}
