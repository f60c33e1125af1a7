import Shard
import Testing

/// When an ended copy settles (its timers stop for good), and what a settled copy no longer does.
@Suite("Directory: settling")
struct DirectorySettleTests {
    typealias F = DirFix

    @Test("a settled-phase replica settles at once when its commit point is its whole log, not before")
    func replicaSettles() {
        var directory = F.directory()
        _ = directory.adopted(F.copy(last: 5, commit: 5), now: F.t(0))
        #expect(directory.timersRun("s1"))
        let behind = F.copy(phase: .settled, last: 6, commit: 5)
        #expect(directory.update(behind, now: F.t(10)) == [.unserve(group: "g1", session: "s1")])
        #expect(!directory.isSettled("s1"))
        #expect(directory.timersRun("s1"))
        // Ticks do not settle it either while the commit point lags.
        #expect(directory.tick(now: F.t(15)).settles == [])
        let whole = F.copy(phase: .settled, last: 6, commit: 6)
        #expect(directory.update(whole, now: F.t(20)) == [.settle(session: "s1")])
        #expect(directory.isSettled("s1"))
        #expect(!directory.timersRun("s1"))
        // Settled once: not again.
        #expect(directory.update(whole, now: F.t(30)) == [])
        #expect(directory.tick(now: F.t(120_000)) == [])
    }

    @Test("an ending copy never settles, whatever its positions")
    func endingNeverSettles() {
        var directory = F.directory()
        _ = directory.adopted(F.copy(phase: .ending, last: 6, commit: 6), now: F.t(0))
        #expect(!directory.isSettled("s1"))
        _ = directory.started(F.primary("s2", group: "g2", phase: .ending, last: 6, commit: 6), now: F.t(0))
        #expect(directory.tick(now: F.t(600_000)).settles == [])
    }

    @Test("a primary settles only when every lag is 0 and the linger has passed since its commit point moved")
    func primarySettlesAfterLinger() {
        var directory = F.directory(settings: F.quietMaintenance)
        _ = directory.started(F.primary(phase: .starting), now: F.t(0))
        _ = directory.update(F.primary(last: 5, commit: 5), now: F.t(100))
        // The ended event commits at 2 s: the commit point moved then.
        let ended = F.primary(phase: .settled, last: 6, commit: 6)
        let atEnd = directory.update(ended, now: F.t(2_000))
        #expect(atEnd.withoutTicks == [.unserve(group: "g1", session: "s1")])
        #expect(atEnd.ticks == [F.t(3_000)], "the settle deadline is asked for")
        #expect(directory.timersRun("s1"))
        #expect(directory.tick(now: F.t(2_999)).settles == [], "before the linger")
        #expect(directory.timersRun("s1"))
        #expect(directory.tick(now: F.t(3_000)).withoutTicks == [.settle(session: "s1")])
        #expect(directory.isSettled("s1"))
        #expect(!directory.timersRun("s1"))
        #expect(directory.tick(now: F.t(9_000)) == [])
    }

    @Test("a primary past its linger does not settle while a replica lags; it settles when the lag reaches 0")
    func primaryWaitsForLag() {
        var directory = F.directory(settings: F.quietMaintenance)
        // Every member alive: a lagging member that is present holds the primary back.
        _ = directory.viewChanged(F.view(F.alive(["a", "b", "c"])), now: F.t(0))
        _ = directory.started(F.primary(last: 5, commit: 5), now: F.t(0))
        _ = directory.update(F.primary(phase: .settled, lag: ["b": 0, "c": 1], last: 6, commit: 6), now: F.t(1_000))
        #expect(directory.tick(now: F.t(2_000)).settles == [])
        #expect(directory.tick(now: F.t(5_000)).settles == [])
        #expect(!directory.isSettled("s1"))
        // The lag reaching 0 does not move the commit point: the linger (counted from 1 s) is over.
        let caughtUp = directory.update(F.primary(phase: .settled, last: 6, commit: 6), now: F.t(5_500))
        #expect(caughtUp.withoutTicks == [.settle(session: "s1")])
        #expect(!directory.timersRun("s1"))
    }

    @Test("the linger counts from the last move of the commit point, not from the phase change")
    func lingerFromCommitMove() {
        var directory = F.directory(settings: F.quietMaintenance)
        _ = directory.started(F.primary(last: 6, commit: 5), now: F.t(0))
        // The commit point moved at 1 s; the settled phase is reported at 1.5 s without a new move.
        _ = directory.update(F.primary(last: 6, commit: 6), now: F.t(1_000))
        let settledPhase = directory.update(F.primary(phase: .settled, last: 6, commit: 6), now: F.t(1_500))
        #expect(settledPhase.settles == [])
        #expect(settledPhase.ticks == [F.t(2_000)])
        #expect(directory.tick(now: F.t(2_000)).settles == ["s1"])
    }

    @Test("a settled copy never campaigns, even when its primary is dead")
    func settledNeverCampaigns() {
        var directory = F.directory(F.view(F.alive(["a", "b", "c"])))
        _ = directory.adopted(F.copy("s1", last: 3, commit: 3), now: F.t(0))
        _ = directory.adopted(F.copy("s2", group: "g2", last: 3, commit: 3), now: F.t(0))
        #expect(directory.update(F.copy("s1", phase: .settled, last: 4, commit: 4), now: F.t(10)).settles == ["s1"])
        for state in [DirFix.State.suspect, .dead, .left] {
            let lost = F.view([("a", .alive), ("b", state), ("c", .alive)])
            #expect(directory.viewChanged(lost, now: F.t(20)) == [.campaign(session: "s2")], "\(state)")
        }
    }

    @Test("timersRun: true for a held copy until it settles, false for a copy not held")
    func timersRun() {
        var directory = F.directory()
        #expect(!directory.timersRun("s1"))
        _ = directory.adopted(F.copy(), now: F.t(0))
        #expect(directory.timersRun("s1"))
        _ = directory.update(F.copy(phase: .settled, last: 1, commit: 1), now: F.t(1))
        #expect(!directory.timersRun("s1"))
    }

    @Test("a settled copy woken by a status with commitSeq < lastSeq runs its timers again, and settles again")
    func wokenByLaterEpoch() {
        var directory = F.directory(F.view(F.alive(["a", "b", "c"])))
        _ = directory.adopted(F.copy(last: 4, commit: 4), now: F.t(0))
        _ = directory.update(F.copy(phase: .settled, last: 5, commit: 5), now: F.t(10))
        #expect(!directory.timersRun("s1"))
        // A lagging member's election at epoch 2 appends an entry this copy has not seen committed.
        let woken = F.copy(phase: .settled, epoch: 2, primary: "c", last: 6, commit: 5)
        #expect(directory.update(woken, now: F.t(20)) == [.wake(session: "s1")])
        #expect(directory.timersRun("s1"))
        #expect(!directory.isSettled("s1"))
        // Awake, it campaigns like any copy when its primary is lost.
        #expect(directory.viewChanged(F.view([("a", .alive), ("b", .alive), ("c", .dead)]), now: F.t(25)) == [
            .campaign(session: "s1")
        ])
        #expect(directory.update(F.copy(phase: .settled, epoch: 2, primary: "c", last: 6, commit: 6), now: F.t(30)) == [
            .settle(session: "s1")
        ])
        #expect(!directory.timersRun("s1"))
    }

    @Test("a settled copy elected primary at a later epoch lingers from its election before it settles again")
    func wokenPrimaryLingers() {
        var directory = F.directory(F.view(F.alive(["a", "b", "c"])), settings: F.quietMaintenance)
        _ = directory.adopted(F.copy(last: 4, commit: 4), now: F.t(0))
        #expect(directory.update(F.copy(phase: .settled, last: 5, commit: 5), now: F.t(10)).settles == ["s1"])
        // Primary of epoch 2 a minute later; its commit point (5) has not moved since 10 ms.
        let elected = directory.update(F.primary(phase: .settled, epoch: 2, last: 5, commit: 5), now: F.t(60_000))
        #expect(elected.settles == [], "settled in the very update that woke it")
        #expect(directory.timersRun("s1"))
        #expect(directory.tick(now: F.t(60_999)).settles == [])
        #expect(directory.tick(now: F.t(61_000)).settles == ["s1"])
    }

    @Test("a restored settled copy (commit == last) settles at once and is not served")
    func restoredSettled() {
        var directory = F.directory()
        let copy = F.copy(phase: .settled, last: 9, commit: 9)
        #expect(directory.restored(copy, now: F.t(0)) == [.settle(session: "s1")])
        #expect(directory.isSettled("s1"))
        #expect(!directory.timersRun("s1"))
        #expect(directory.servedCopy(group: "g1") == nil)
        #expect(directory.unconfirmedCopy(group: "g1") == nil)
        #expect(directory.tick(now: F.t(60_000)) == [])
        // Restored with the commit point short of the log: not settled.
        var other = F.directory()
        #expect(other.restored(F.copy(phase: .settled, last: 9, commit: 8), now: F.t(0)) == [])
        #expect(other.timersRun("s1"))
    }

    @Test("a restored live copy that is its set's only member campaigns at once; one with other members does not")
    func restoredAloneCampaigns() {
        var alone = F.directory()
        let only = F.copy(role: .replica, primary: "a", members: ["a"], last: 3, commit: 3)
        #expect(alone.restored(only, now: F.t(0)) == [.campaign(session: "s1")])
        #expect(alone.servedCopy(group: "g1") == nil, "still unconfirmed until it becomes primary")

        var withOthers = F.directory()
        #expect(withOthers.restored(F.copy(members: ["a", "b"]), now: F.t(0)) == [])
        #expect(withOthers.restored(F.copy("s2", group: "g2", members: ["a", "b", "c"]), now: F.t(0)) == [])
        #expect(withOthers.restored(F.copy("s3", group: "g3", members: ["b"]), now: F.t(0)) == [])
    }
}
