import Gossip
import NIOHTTP1
import Testing

@testable import Node

@Suite("Cluster shell pieces")
struct ClusterPiecesTests {
    @Test("secrets compare in constant time over their full length; short ones are refused")
    func secret() {
        let base = String(repeating: "k", count: 32)
        #expect(ClusterSecret(base) != nil)
        #expect(ClusterSecret(String(base.dropLast())) == nil)
        #expect(ClusterSecret("") == nil && ClusterSecret(nil) == nil)
        #expect(ClusterSecret.constantTimeEquals(Array(base.utf8), Array(base.utf8)))
        // The old comparison looked only at the low byte of the length difference: the secret
        // followed by 256 bytes (or any multiple) passed.
        for wrong in [
            base + String(repeating: "\0", count: 256), base + String(repeating: "x", count: 512), "",
            String(base.dropLast()), base + "!", "K" + base.dropFirst(),
        ] {
            #expect(!ClusterSecret.constantTimeEquals(Array(base.utf8), Array(wrong.utf8)), "\(wrong.count) accepted")
        }
    }

    static func member(_ id: String, _ status: MemberStatus, zone: String? = nil) -> Member {
        Member(
            id: MemberID(id),
            address: "http://\(id)",
            zone: zone,
            generation: 1,
            incarnation: 0,
            status: status,
            load: MemberLoad(),
            coordinate: nil
        )
    }

    @Test("the view places groups on alive and suspect members only")
    func viewPlacement() {
        let view = ClusterView(myself: Self.member("a", .alive))
        view.update(members: [
            Self.member("a", .alive), Self.member("b", .suspect), Self.member("c", .dead), Self.member("d", .left),
            Self.member("e", .alive),
        ])
        let ring = view.snapshot.ring
        #expect(Set(ring.shares().keys) == ["a", "b", "e"])
        for g in (0..<100).map({ "g\($0)" }) {
            #expect(Set(ring.preferenceList(for: g, count: 3)) == ["a", "b", "e"])
        }
        #expect(view.snapshot.version == 1)
    }

    @Test("peer addresses parse, with their scheme")
    func addresses() {
        #expect(PeerClient.parse("http://127.0.0.1:7000")! == (false, "127.0.0.1", 7000))
        #expect(PeerClient.parse("https://x:1")! == (true, "x", 1))
        #expect(PeerClient.parse("http://nohost") == nil)
        #expect(PeerClient.parse("ftp://x:1") == nil)
        #expect(PeerClient.parse("x:1") == nil)
    }
}
