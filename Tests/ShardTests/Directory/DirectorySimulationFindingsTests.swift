import Shard
import Testing

private typealias F = DirFix

/// Rules the replication simulation (with the directory on every node) found missing; each test
/// fails without its rule.
@Suite("Directory: what the simulation found")
struct DirectorySimulationFindingsTests {
    /// A node that has just joined may know only part of the cluster: its rings then place a
    /// group's replicas on the wrong nodes, and "every place answered none" proves nothing.
    @Test("no certain miss during the join-settle period after joining")
    func joinSettle() {
        var settings = DirectorySettings()
        settings.joinSettle = F.d(3_000)
        // A partial view: this node and one peer, both holding nothing, in a bigger cluster.
        var view = F.view(F.alive(["a", "b"]))
        view.joinedAt = F.t(10_000)
        let group = "g1"
        let answered: Set<String> = ["a", "b"]
        #expect(SessionDirectory.verdict(group: group, answered: answered, view: view, settings: settings, now: F.t(10_000)) == .uncertain)
        #expect(SessionDirectory.verdict(group: group, answered: answered, view: view, settings: settings, now: F.t(12_999)) == .uncertain)
        #expect(SessionDirectory.verdict(group: group, answered: answered, view: view, settings: settings, now: F.t(13_000)) == .certainlyNone)
        // Joined long ago (unknown time): certain as before.
        view.joinedAt = nil
        #expect(SessionDirectory.verdict(group: group, answered: answered, view: view, settings: settings, now: F.t(10_000)) == .certainlyNone)
    }

    @Test("a dead member's lag does not keep an ended session's primary from settling")
    func deadMemberDoesNotHoldSettling() {
        var directory = F.directory(settings: F.quietMaintenance)
        _ = directory.viewChanged(F.view([("a", .alive), ("b", .alive), ("c", .dead)]), now: F.t(0))
        _ = directory.started(F.primary(last: 5, commit: 5), now: F.t(0))
        _ = directory.update(F.primary(phase: .settled, lag: ["b": 0, "c": 3], last: 6, commit: 6), now: F.t(1_000))
        #expect(directory.tick(now: F.t(2_000)).settles == ["s1"])
    }

    @Test("past its linger, a primary waiting for a lagging replica asks for the next round, never for now")
    func noSpinWhileLagging() {
        var directory = F.directory(settings: F.quietMaintenance)
        _ = directory.viewChanged(F.view(F.alive(["a", "b", "c"])), now: F.t(0))
        _ = directory.started(F.primary(last: 5, commit: 5), now: F.t(0))
        _ = directory.update(F.primary(phase: .settled, lag: ["b": 0, "c": 1], last: 6, commit: 6), now: F.t(1_000))
        for now in [2_000, 2_001, 5_000] as [UInt64] {
            #expect(directory.tick(now: F.t(now)).ticks.allSatisfy { $0 > F.t(now) })
        }
    }

    @Test("one over the target with the primary outside the ideal set shrinks back to the target")
    func primaryOutsideIdealSet() {
        let view = F.view(F.alive(F.five))
        for group in F.groups {
            let preference = view.preferenceList(for: group)
            guard preference.last == "a" else { continue }
            let copy = F.primary(group: group, members: Array(preference.prefix(3)) + ["a"])
            let change = SessionDirectory.replicaSetChange(copy, me: "a", view: view, settings: DirectorySettings())
            #expect(change == .removeReplica(session: "s1", node: preference[2], reason: .rebalance))
        }
    }
}
