import Foundation
import JWTKit
import Live

/// A member's role in one group, from the token's `groups` claim (API.md, Identity and access).
public enum GroupRole: String, Codable, Sendable, Comparable {
    /// Let in by a share link: watches, likes, comments, asks; never starts, tips or handles
    /// red packets.
    case guest
    case member
    case admin
    case owner

    private var rank: Int {
        switch self {
        case .guest: return -1
        case .member: return 0
        case .admin: return 1
        case .owner: return 2
        }
    }

    public static func < (a: GroupRole, b: GroupRole) -> Bool { a.rank < b.rank }
}

/// The claims of a Qunbo access token. The host app signs these; Qunbo stores no rosters.
public struct AccessClaims: JWTPayload, Equatable {
    /// User id, `[A-Za-z0-9_.-]{1,64}`.
    public var sub: SubjectClaim
    /// Optional display name.
    public var name: String?
    /// Group id -> role. Optional in the token: missing means no groups (operator tokens).
    public var groups: [String: GroupRole]
    /// Required expiry.
    public var exp: ExpirationClaim
    /// Optional not-before.
    public var nbf: NotBeforeClaim?
    /// Operator rights on `/admin/*`.
    public var admin: Bool?

    public init(
        sub: String,
        name: String? = nil,
        groups: [String: GroupRole] = [:],
        exp: Date,
        nbf: Date? = nil,
        admin: Bool? = nil
    ) {
        self.sub = SubjectClaim(value: sub)
        self.name = name
        self.groups = groups
        self.exp = ExpirationClaim(value: exp)
        self.nbf = nbf.map { NotBeforeClaim(value: $0) }
        self.admin = admin
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sub = try c.decode(SubjectClaim.self, forKey: .sub)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        groups = try c.decodeIfPresent([String: GroupRole].self, forKey: .groups) ?? [:]
        exp = try c.decode(ExpirationClaim.self, forKey: .exp)
        nbf = try c.decodeIfPresent(NotBeforeClaim.self, forKey: .nbf)
        admin = try c.decodeIfPresent(Bool.self, forKey: .admin)
    }

    /// Called by jwt-kit after the signature checks out: time claims and id formats.
    public func verify(using algorithm: some JWTAlgorithm) async throws {
        // Clocks of the token's minter and of this node may differ a little (`TokenLifetime`).
        try exp.verifyNotExpired(currentDate: Date().addingTimeInterval(-TokenLifetime.leewaySeconds))
        try nbf?.verifyNotBefore(currentDate: Date().addingTimeInterval(TokenLifetime.leewaySeconds))
        guard IdentifierRule.user.accepts(sub.value) else { throw ClaimsError.badSubject }
        guard groups.keys.allSatisfy({ IdentifierRule.group.accepts($0) }) else { throw ClaimsError.badGroup }
        if let name, name.count > 128 { throw ClaimsError.badName }
    }

    enum ClaimsError: Error {
        case badSubject
        case badGroup
        case badName
    }
}

/// Who is calling, once their token checked out.
public struct Principal: Sendable, Equatable {
    public var user: String
    public var name: String?
    public var groups: [String: GroupRole]
    public var isAdmin: Bool

    /// The caller's role in `group`, nil for non-members.
    public func role(in group: String) -> GroupRole? { groups[group] }
}
