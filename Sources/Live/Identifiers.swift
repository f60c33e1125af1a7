/// Identifier rules of the public contract (API.md), checked in one place so that every route and
/// every peer message refuses the same malformed ids the same way.
public enum IdentifierRule: Sendable {
    /// Group ids: `[A-Za-z0-9_-]{1,64}`.
    case group
    /// User ids (`sub` claim): `[A-Za-z0-9_.-]{1,64}`.
    case user
    /// Client idempotency keys (`id` on writes): `[A-Za-z0-9_-]{1,64}`.
    case idempotencyKey

    /// The longest accepted id, in bytes (all accepted characters are ASCII).
    public static let maxLength = 64

    /// Whether `value` satisfies this rule.
    public func accepts(_ value: String) -> Bool {
        let bytes = value.utf8
        guard !bytes.isEmpty, bytes.count <= Self.maxLength else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
                return true
            case UInt8(ascii: "."):
                return self == .user
            default:
                return false
            }
        }
    }
}

/// A validated group id.
public struct GroupID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// Returns `nil` unless `rawValue` satisfies `IdentifierRule.group`.
    public init?(_ rawValue: String) {
        guard IdentifierRule.group.accepts(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    public var description: String { rawValue }
}

/// A validated user id.
public struct UserID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// Returns `nil` unless `rawValue` satisfies `IdentifierRule.user`.
    public init?(_ rawValue: String) {
        guard IdentifierRule.user.accepts(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    public var description: String { rawValue }
}
