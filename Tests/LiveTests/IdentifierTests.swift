import Testing

@testable import Live

@Suite("Identifier rules")
struct IdentifierTests {
    @Test func groupIDs() {
        #expect(GroupID("team-1_A") != nil)
        #expect(GroupID(String(repeating: "a", count: 64)) != nil)
        for bad in ["", String(repeating: "a", count: 65), "a.b", "a b", "组", "a/b", "a%2F"] {
            #expect(GroupID(bad) == nil, "\(bad) must be refused")
        }
    }

    @Test func userIDs() {
        #expect(UserID("ann.lee-1_x") != nil)
        for bad in ["", "a b", "ü", String(repeating: "u", count: 65), "a:b"] {
            #expect(UserID(bad) == nil, "\(bad) must be refused")
        }
    }

    @Test func idempotencyKeys() {
        #expect(IdentifierRule.idempotencyKey.accepts("c-123_x"))
        #expect(!IdentifierRule.idempotencyKey.accepts("c.1"))
    }
}
