import Shard
import Testing

/// `SessionDirectory.verdict` (when a lookup that found no copy may answer 404 rather than 503:
/// the cases of NodeTests' LookupCertaintyTests, on the pure function) and `likelyHolders`.
@Suite("Directory: lookup verdict and likely holders")
struct DirectoryLookupTests {
    typealias F = DirFix

    /// The dead-holder grace in milliseconds (times are built from milliseconds, not by adding a
    /// duration, so these tests need only `Shard`).
    static let graceMs = DirectorySettings().deadHolderGrace.nanoseconds / 1_000_000

    static func verdict(
        _ group: String,
        answered: Set<String>,
        _ view: DirectoryView,
        at now: ReplicationTime = F.t(1_000)
    ) -> LookupVerdict {
        SessionDirectory.verdict(group: group, answered: answered, view: view, settings: DirectorySettings(), now: now)
    }

    @Test("a miss is certain once every node where the replicas belong answered none; one missing keeps it uncertain")
    func everyPlaceAnswered() {
        let view = F.view(F.alive(F.five))
        for group in F.groups {
            let placed = Set(view.ring.preferenceList(for: group, count: 3))
            #expect(Self.verdict(group, answered: placed.union(["a"]), view) == .certainlyNone, "\(group)")
            let missing = placed.subtracting(["a"]).first!
            #expect(
                Self.verdict(group, answered: placed.union(["a"]).subtracting([missing]), view) == .uncertain,
                "\(group)"
            )
        }
    }

    @Test("a node that has not joined yet is never certain, though it answered for itself")
    func notJoined() {
        let alone = DirectoryView.alone("a")
        #expect(!alone.joined)
        let unjoined = F.view(F.alive(F.five), joined: false)
        for group in F.groups {
            #expect(Self.verdict(group, answered: ["a"], alone) == .uncertain)
            #expect(Self.verdict(group, answered: Set(F.five), unjoined) == .uncertain)
        }
    }

    @Test("a node that sees fewer alive than a replica set is never certain")
    func cutOff() {
        let cut = F.view([("a", .alive), ("b", .suspect), ("c", .suspect), ("d", .dead)], deadSince: F.t(0))
        let everyone: Set<String> = ["a", "b", "c", "d"]
        for group in F.groups {
            #expect(Self.verdict(group, answered: everyone, cut, at: F.t(10_000_000)) == .uncertain)
        }
        // A cluster of two, both alive, is a whole cluster: it can be certain.
        let two = F.view(F.alive(["a", "b"]))
        for group in F.groups {
            #expect(Self.verdict(group, answered: ["a", "b"], two) == .certainlyNone)
            #expect(Self.verdict(group, answered: ["a"], two) == .uncertain)
        }
    }

    @Test("a recently dead holder keeps a miss uncertain; one dead past the grace does not")
    func deadHolders() {
        let diedMs: UInt64 = 10_000
        let diedAt = F.t(diedMs)
        let view = F.view(
            [("a", .alive), ("b", .alive), ("c", .dead), ("d", .alive), ("e", .alive)],
            deadSince: diedAt
        )
        var withC = 0
        for group in F.groups {
            // Everyone alive answered "none"; c could not be asked.
            let answered: Set<String> = ["a", "b", "d", "e"]
            let cPlaced = view.holderRing.preferenceList(for: group, count: 3).contains("c")
            if cPlaced { withC += 1 }
            let certainIfNotPlaced: LookupVerdict = cPlaced ? .uncertain : .certainlyNone
            #expect(Self.verdict(group, answered: answered, view, at: diedAt) == certainIfNotPlaced, "\(group)")
            #expect(Self.verdict(group, answered: answered, view, at: F.t(diedMs + Self.graceMs)) == certainIfNotPlaced)
            #expect(
                Self.verdict(group, answered: answered, view, at: F.t(diedMs + Self.graceMs + 1_000)) == .certainlyNone
            )
        }
        #expect(withC > 50, "c is among the first three places of many groups")
    }

    @Test("a dead holder with no known time of death keeps a miss uncertain")
    func deadHolderWithoutTime() {
        var view = F.view([("a", .alive), ("b", .alive), ("c", .dead), ("d", .alive), ("e", .alive)])
        view.deadSince = [:]
        for group in F.groups where view.holderRing.preferenceList(for: group, count: 3).contains("c") {
            #expect(Self.verdict(group, answered: ["a", "b", "d", "e"], view, at: F.t(100_000_000)) == .uncertain)
        }
    }

    @Test("a suspect placed node that did not answer keeps a miss uncertain")
    func suspectHolder() {
        let view = F.view([("a", .alive), ("b", .suspect), ("c", .alive), ("d", .alive)])
        var withB = 0
        for group in F.groups where view.ring.preferenceList(for: group, count: 3).contains("b") {
            withB += 1
            #expect(Self.verdict(group, answered: ["a", "c", "d"], view) == .uncertain)
            #expect(Self.verdict(group, answered: ["a", "b", "c", "d"], view) == .certainlyNone)
        }
        #expect(withB > 50)
    }

    @Test("the directory's verdict uses its own view")
    func instanceVerdict() {
        let view = F.view(F.alive(F.five))
        var directory = F.directory()
        #expect(directory.verdict(group: "g1", answered: Set(F.five), now: F.t(0)) == .uncertain, "alone, not joined")
        _ = directory.viewChanged(view, now: F.t(0))
        for group in F.groups.prefix(50) {
            let placed = Set(view.ring.preferenceList(for: group, count: 3))
            #expect(directory.verdict(group: group, answered: placed, now: F.t(0)) == Self.verdict(group, answered: placed, view))
            #expect(directory.verdict(group: group, answered: placed, now: F.t(0)) == .certainlyNone)
        }
    }

    // MARK: Likely holders

    @Test("likely holders: alive only, never this node, at most replicas + 2, in preference order")
    func likelyHolders() {
        let ids = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]
        let mixed = F.view(ids.map { id -> (String, DirFix.State) in
            switch id {
            case "b": (id, .dead)
            case "c": (id, .suspect)
            case "d": (id, .left)
            default: (id, .alive)
            }
        })
        var directory = F.directory(mixed)
        for group in F.groups {
            let holders = directory.likelyHolders(group: group)
            let preference = mixed.preferenceList(for: group)
            #expect(holders.count == 5, "seven alive others, capped at 3 + 2")
            #expect(holders.allSatisfy { mixed.alive.contains($0) && $0 != "a" })
            let positions = holders.map { preference.firstIndex(of: $0)! }
            #expect(positions == positions.sorted())
            #expect(holders == Array(preference.filter { mixed.alive.contains($0) && $0 != "a" }.prefix(5)))
        }
        // Few alive: every one of them, self excluded.
        _ = directory.viewChanged(F.view([("a", .alive), ("b", .alive), ("c", .dead), ("d", .suspect)]), now: F.t(0))
        for group in F.groups.prefix(20) { #expect(directory.likelyHolders(group: group) == ["b"]) }
        // Alone: nobody.
        #expect(F.directory().likelyHolders(group: "g1") == [])
    }
}
