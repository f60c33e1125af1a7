import Gossip
import NIOHTTP1
import Testing

@testable import Node

@Suite("Cluster shell pieces")
struct ClusterPiecesTests {
    @Test("the cluster secret accepts exactly itself")
    func secret() {
        let secret = ClusterSecret("s3cret")!
        #expect(secret.authenticates(HTTPHeaders([(ClusterSecret.header, "s3cret")])))
        for wrong in ["", "s3cre", "s3cret!", "S3cret", "s3cret\0"] {
            #expect(!secret.authenticates(HTTPHeaders([(ClusterSecret.header, wrong)])), "\(wrong) accepted")
        }
        #expect(!secret.authenticates(HTTPHeaders()))
        #expect(ClusterSecret("") == nil && ClusterSecret(nil) == nil)
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

    @Test("peer addresses parse")
    func addresses() {
        #expect(PeerClient.parse("http://127.0.0.1:7000")! == ("127.0.0.1", 7000))
        #expect(PeerClient.parse("https://x:1") == nil)
        #expect(PeerClient.parse("http://nohost") == nil)
    }
}
