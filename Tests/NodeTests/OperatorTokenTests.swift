import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import Node

/// `/admin/*` accepts only operator tokens: signed with the cluster secret, `"admin": true`.
@Suite("Operator tokens")
struct OperatorTokenTests {
    static let clientSecret = "client-secret-0123456789-abcdefghijklmn"
    static let clusterSecret = "cluster-secret-0123456789-abcdefghijkl"

    static func access() async -> AccessControl {
        AccessControl(
            verifier: await TokenVerifier(secret: clientSecret),
            operators: await TokenVerifier(secret: clusterSecret, secretName: "--cluster-secret")
        )
    }

    static func request(token: String?) -> Request {
        var headers = HTTPHeaders()
        if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        return Request(
            head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/admin/v1/members", headers: headers),
            isHTTP2: false,
            remoteAddress: nil,
            body: .buffered(.init())
        )
    }

    static func status(_ access: AccessControl, _ token: String?) async -> Int {
        do {
            try await access.requireAdmin(request(token: token))
            return 200
        } catch {
            return Int(error.status.code)
        }
    }

    @Test("cluster-secret admin token 200; client-secret admin token 403; no admin claim 403; bad token 401")
    func statuses() async throws {
        let access = await Self.access()
        let exp = Date().addingTimeInterval(60)
        let operatorToken = try await TokenMinter.mint(
            secret: Self.clusterSecret,
            claims: AccessClaims(sub: "ops", exp: exp, admin: true)
        )
        let clientAdmin = try await TokenMinter.mint(
            secret: Self.clientSecret,
            claims: AccessClaims(sub: "ops", groups: ["g": .owner], exp: exp, admin: true)
        )
        let notAdmin = try await TokenMinter.mint(
            secret: Self.clusterSecret,
            claims: AccessClaims(sub: "ops", exp: exp)
        )
        let otherSecret = try await TokenMinter.mint(
            secret: String(repeating: "z", count: 40),
            claims: AccessClaims(sub: "ops", exp: exp, admin: true)
        )
        let expired = try await TokenMinter.mint(
            secret: Self.clusterSecret,
            claims: AccessClaims(sub: "ops", exp: Date().addingTimeInterval(-60), admin: true)
        )
        #expect(await Self.status(access, operatorToken) == 200)
        #expect(await Self.status(access, clientAdmin) == 403)
        #expect(await Self.status(access, notAdmin) == 403)
        #expect(await Self.status(access, otherSecret) == 401)
        #expect(await Self.status(access, expired) == 401)
        #expect(await Self.status(access, nil) == 401)
        #expect(await Self.status(access, "garbage") == 401)
        // An operator token is no client token: client routes check the client secret.
        await #expect(throws: APIError.self) { try await access.principal(Self.request(token: operatorToken)) }
    }

    @Test("groups is optional in every token (missing means none); exp is required")
    func optionalGroups() async throws {
        let future = Int(Date().timeIntervalSince1970) + 3600
        let noGroups = TokenVerifierTests.handmade(
            header: #"{"alg":"HS256","typ":"JWT"}"#,
            payload: #"{"sub":"ops","admin":true,"exp":\#(future)}"#,
            signWith: Self.clusterSecret
        )
        let access = await Self.access()
        #expect(await Self.status(access, noGroups) == 200)
        let client = TokenVerifierTests.handmade(
            header: #"{"alg":"HS256","typ":"JWT"}"#,
            payload: #"{"sub":"ann","exp":\#(future)}"#,
            signWith: Self.clientSecret
        )
        let principal = try await access.principal(Self.request(token: client))
        #expect(principal.user == "ann" && principal.groups.isEmpty)
        let noExp = TokenVerifierTests.handmade(
            header: #"{"alg":"HS256","typ":"JWT"}"#,
            payload: #"{"sub":"ops","admin":true}"#,
            signWith: Self.clusterSecret
        )
        #expect(await Self.status(access, noExp) == 401)
    }
}
