import Gossip
import Shard
import Testing

@testable import Node

/// When a lookup that found no copy may answer 404 (no session) rather than 503 (retry): the
/// rolling-restart test once saw a write answered 404 while its session lived on, from a node
/// that had just restarted (it knew only itself) or whose view called the holders dead.
@Suite("Lookup certainty")
struct LookupCertaintyTests {
    static let groups = (0..<200).map { "g\($0)" }
    static let grace: Duration = .seconds(30)

    static func view(_ statuses: [(String, MemberStatus)]) -> ClusterView {
        let view = ClusterView(myself: ClusterPiecesTests.member("a", .alive))
        update(view, statuses)
        return view
    }

    static func update(_ view: ClusterView, _ statuses: [(String, MemberStatus)]) {
        view.update(members: statuses.map { ClusterPiecesTests.member($0.0, $0.1) })
    }

    static func certain(
        _ group: String,
        answered: Set<String>,
        _ snapshot: ClusterView.Snapshot,
        joined: Bool = true,
        at now: ContinuousClock.Instant = .now
    ) -> Bool {
        // The node's snapshot as the directory sees it (what `SessionRouter` hands it), on a
        // replication clock whose origin is an hour before `now`.
        let origin = now - .seconds(3600)
        let time = { (instant: ContinuousClock.Instant) in
            ReplicationTime(nanoseconds: UInt64(max(0, (instant - origin).nanoseconds)))
        }
        var members: [String: DirectoryView.MemberState] = [:]
        for member in snapshot.members { members[member.id.rawValue] = .init(member.status) }
        let view = DirectoryView(
            selfID: snapshot.selfID,
            members: members,
            ring: snapshot.ring,
            holderRing: snapshot.holderRing,
            deadSince: snapshot.deadSince.mapValues(time),
            joined: joined
        )
        var settings = DirectorySettings()
        settings.deadHolderGrace = .milliseconds(UInt64(grace.components.seconds * 1000))
        return SessionDirectory.verdict(group: group, answered: answered, view: view, settings: settings, now: time(now))
            == .certainlyNone
    }

    @Test("the holder ring keeps dead members, drops left ones, and remembers when each died")
    func holderRing() {
        let view = Self.view([("a", .alive), ("b", .alive), ("c", .dead), ("d", .left), ("e", .suspect)])
        let first = view.snapshot
        #expect(Set(first.holderRing.shares().keys) == ["a", "b", "c", "e"])
        #expect(Set(first.ring.shares().keys) == ["a", "b", "e"])
        #expect(Set(first.deadSince.keys) == ["c"])
        let diedAt = first.deadSince["c"]!
        Self.update(view, [("a", .alive), ("b", .dead), ("c", .dead), ("e", .alive)])
        #expect(view.snapshot.deadSince["c"] == diedAt, "a member still dead keeps its first time")
        #expect(Set(view.snapshot.deadSince.keys) == ["b", "c"])
        Self.update(view, [("a", .alive), ("b", .alive), ("c", .alive), ("e", .alive)])
        #expect(view.snapshot.deadSince.isEmpty)
        #expect(Set(view.snapshot.holderRing.shares().keys) == ["a", "b", "c", "e"])
    }

    @Test("a miss is certain once every node where the replicas belong answered none")
    func everyPlaceAnswered() {
        let snapshot = Self.view(["a", "b", "c", "d", "e"].map { ($0, MemberStatus.alive) }).snapshot
        for group in Self.groups {
            let placed = Set(snapshot.ring.preferenceList(for: group, count: 3))
            #expect(Self.certain(group, answered: placed.union(["a"]), snapshot))
            let missing = placed.subtracting(["a"]).first!
            #expect(!Self.certain(group, answered: placed.union(["a"]).subtracting([missing]), snapshot))
        }
    }

    @Test("a node that has not joined yet is never certain, though it answered for itself")
    func notJoined() {
        let alone = ClusterView(myself: ClusterPiecesTests.member("a", .alive)).snapshot
        for group in Self.groups {
            #expect(!Self.certain(group, answered: ["a"], alone, joined: false))
        }
    }

    @Test("a recently dead holder keeps a miss uncertain; one dead past the grace does not")
    func deadHolders() {
        let view = Self.view([("a", .alive), ("b", .alive), ("c", .dead), ("d", .alive), ("e", .alive)])
        let snapshot = view.snapshot
        let diedAt = snapshot.deadSince["c"]!
        var withC = 0
        for group in Self.groups {
            // Everyone alive answered "none"; c could not be asked.
            let answered: Set<String> = ["a", "b", "d", "e"]
            let cPlaced = snapshot.holderRing.preferenceList(for: group, count: 3).contains("c")
            if cPlaced { withC += 1 }
            #expect(Self.certain(group, answered: answered, snapshot, at: diedAt) == !cPlaced, "\(group)")
            #expect(Self.certain(group, answered: answered, snapshot, at: diedAt + Self.grace + .seconds(1)))
        }
        #expect(withC > 50, "c is among the first three places of many groups")
    }

    @Test("a suspect placed node that did not answer keeps a miss uncertain")
    func suspectHolder() {
        let snapshot = Self.view([("a", .alive), ("b", .suspect), ("c", .alive), ("d", .alive)]).snapshot
        for group in Self.groups where snapshot.ring.preferenceList(for: group, count: 3).contains("b") {
            #expect(!Self.certain(group, answered: ["a", "c", "d"], snapshot))
        }
    }
}
