import Crypto
import Foundation
import Testing

@testable import Node

@Suite("Access tokens")
struct TokenVerifierTests {
    static let secret = "test-secret-0123456789-abcdefghijklmnop"

    static func b64url(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Builds a token by hand, so the tests control every byte of header and payload.
    static func handmade(header: String, payload: String, signWith secret: String?, hash: HashKind = .sha256) -> String
    {
        let signingInput = b64url(Data(header.utf8)) + "." + b64url(Data(payload.utf8))
        guard let secret else { return signingInput + "." }
        let key = SymmetricKey(data: Data(secret.utf8))
        let mac: Data
        switch hash {
        case .sha256: mac = Data(HMAC<SHA256>.authenticationCode(for: Data(signingInput.utf8), using: key))
        case .sha512: mac = Data(HMAC<SHA512>.authenticationCode(for: Data(signingInput.utf8), using: key))
        }
        return signingInput + "." + b64url(mac)
    }

    enum HashKind {
        case sha256
        case sha512
    }

    static var future: Int { Int(Date().timeIntervalSince1970) + 3600 }

    @Test("a minted token verifies and carries its claims")
    func roundTrip() async throws {
        let claims = AccessClaims(
            sub: "ann",
            name: "Ann",
            groups: ["g1": .owner, "g2": .member],
            exp: Date().addingTimeInterval(60),
            admin: true
        )
        let token = try await TokenMinter.mint(secret: Self.secret, claims: claims)
        let principal = try await TokenVerifier(secret: Self.secret).verify(token)
        #expect(principal == Principal(user: "ann", name: "Ann", groups: ["g1": .owner, "g2": .member], isAdmin: true))
    }

    @Test("a hand-built HS256 token verifies")
    func handmadeValid() async throws {
        let token = Self.handmade(
            header: #"{"alg":"HS256","typ":"JWT"}"#,
            payload: #"{"sub":"bob","groups":{"g":"member"},"exp":\#(Self.future)}"#,
            signWith: Self.secret
        )
        let principal = try await TokenVerifier(secret: Self.secret).verify(token)
        #expect(principal.user == "bob" && principal.role(in: "g") == .member && !principal.isAdmin)
    }

    @Test(
        "every bad token is 401",
        arguments: [
            ("alg none", #"{"alg":"none","typ":"JWT"}"#, #"{"sub":"u","groups":{},"exp":FUTURE}"#, "none"),
            ("alg HS512", #"{"alg":"HS512","typ":"JWT"}"#, #"{"sub":"u","groups":{},"exp":FUTURE}"#, "sha512"),
            ("missing exp", #"{"alg":"HS256"}"#, #"{"sub":"u","groups":{}}"#, "good"),
            ("expired", #"{"alg":"HS256"}"#, #"{"sub":"u","groups":{},"exp":1000}"#, "good"),
            ("nbf in the future", #"{"alg":"HS256"}"#, #"{"sub":"u","groups":{},"exp":FUTURE,"nbf":FUTURE}"#, "good"),
            ("bad signature", #"{"alg":"HS256"}"#, #"{"sub":"u","groups":{},"exp":FUTURE}"#, "wrong"),
            ("bad sub", #"{"alg":"HS256"}"#, #"{"sub":"u u","groups":{},"exp":FUTURE}"#, "good"),
            ("bad group id", #"{"alg":"HS256"}"#, #"{"sub":"u","groups":{"a b":"member"},"exp":FUTURE}"#, "good"),
            ("bad role", #"{"alg":"HS256"}"#, #"{"sub":"u","groups":{"g":"king"},"exp":FUTURE}"#, "good"),
            ("groups of wrong type", #"{"alg":"HS256"}"#, #"{"sub":"u","groups":[1],"exp":FUTURE}"#, "good"),
        ]
    )
    func rejects(_ name: String, _ header: String, _ payload: String, _ signing: String) async throws {
        let payload = payload.replacingOccurrences(of: "FUTURE", with: String(Self.future))
        let token: String
        switch signing {
        case "none": token = Self.handmade(header: header, payload: payload, signWith: nil)
        case "sha512": token = Self.handmade(header: header, payload: payload, signWith: Self.secret, hash: .sha512)
        case "wrong":
            token = Self.handmade(
                header: header,
                payload: payload,
                signWith: "another-secret-of-enough-length-0123456789"
            )
        default: token = Self.handmade(header: header, payload: payload, signWith: Self.secret)
        }
        let verifier = await TokenVerifier(secret: Self.secret)
        await #expect(throws: APIError.self, "\(name) must be refused") { try await verifier.verify(token) }
        do {
            _ = try await verifier.verify(token)
        } catch {
            #expect(error.status == .unauthorized, "\(name): \(error)")
        }
    }

    @Test("malformed strings are 401, never a crash")
    func malformed() async {
        let verifier = await TokenVerifier(secret: Self.secret)
        for junk in ["", ".", "..", "a.b.c", "eyJhbGciOiJIUzI1NiJ9", String(repeating: "A", count: 10_000), "💥.💥.💥"] {
            await #expect(throws: APIError.self) { try await verifier.verify(junk) }
        }
    }

    @Test("a node without an auth secret refuses every token")
    func noSecret() async throws {
        let token = try await TokenMinter.mint(
            secret: Self.secret,
            claims: AccessClaims(sub: "u", exp: Date().addingTimeInterval(60))
        )
        await #expect(throws: APIError.self) { try await TokenVerifier(secret: nil).verify(token) }
    }
}
