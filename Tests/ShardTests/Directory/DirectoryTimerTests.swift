import Shard
import Testing

/// The ingest grace and the directory's own timer.
@Suite("Directory: ingest grace and timers")
struct DirectoryTimerTests {
    typealias F = DirFix

    @Test("a live primary without ingest gets one end once the grace has passed since the ingest stopped")
    func graceAfterStop() {
        var directory = F.directory(settings: F.quietMaintenance)
        _ = directory.started(F.primary(members: ["a"]), now: F.t(0))
        directory.ingestStarted(session: "s1")
        #expect(directory.ingestStopped(session: "s1", now: F.t(1_000)) == [.scheduleTick(at: F.t(31_000))])
        #expect(directory.tick(now: F.t(30_999)).ends == [], "just before the grace")
        #expect(directory.tick(now: F.t(31_000)).ends == ["s1"])
        // Asked once per grace period, not on every tick.
        #expect(directory.tick(now: F.t(31_001)).ends == [])
        #expect(directory.tick(now: F.t(60_999)).ends == [])
        #expect(directory.tick(now: F.t(61_000)).ends == ["s1"])
    }

    @Test("a started primary's grace waits for its first ingest (the encoder may connect well after the start)")
    func graceWaitsForFirstIngest() {
        var directory = F.directory(settings: F.quietMaintenance)
        let directives = directory.started(F.primary(members: ["a"]), now: F.t(0))
        #expect(directives == [.serve(group: "g1", session: "s1"), .scheduleTick(at: F.t(3_600_000))])
        for seconds: UInt64 in [30, 45, 600] {
            #expect(directory.tick(now: F.t(seconds * 1_000)).ends == [])
        }
        directory.ingestStarted(session: "s1")
        #expect(directory.ingestStopped(session: "s1", now: F.t(700_000)) == [.scheduleTick(at: F.t(730_000))])
        #expect(directory.tick(now: F.t(729_999)).ends == [])
        #expect(directory.tick(now: F.t(745_000)).ends == ["s1"], "a late tick ends it at once")
        #expect(directory.tick(now: F.t(774_999)).ends == [], "counted again from the end asked at 745 s")
        #expect(directory.tick(now: F.t(775_000)).ends == ["s1"])
    }

    @Test("no end while the ingest is there")
    func noEndWhileIngesting() {
        var directory = F.directory(settings: F.quietMaintenance)
        _ = directory.started(F.primary(members: ["a"]), now: F.t(0))
        directory.ingestStarted(session: "s1")
        for seconds: UInt64 in [29, 30, 31, 60, 600, 6_000] {
            #expect(directory.tick(now: F.t(seconds * 1_000)).ends == [])
        }
        // A failover to and back from another epoch does not count while it ingests here.
        _ = directory.update(F.primary(epoch: 2, members: ["a"]), now: F.t(7_000_000))
        #expect(directory.tick(now: F.t(7_100_000)).ends == [])
    }

    @Test("a node that becomes primary counts the grace from its election")
    func graceFromElection() {
        var directory = F.directory(settings: F.quietMaintenance)
        _ = directory.adopted(F.copy(members: ["a", "b"]), now: F.t(0))
        #expect(directory.tick(now: F.t(40_000)).ends == [], "a replica")
        let elected = directory.update(F.primary(epoch: 2, members: ["a", "b"]), now: F.t(100_000))
        #expect(elected.ticks == [F.t(130_000)])
        #expect(directory.tick(now: F.t(129_999)).ends == [])
        #expect(directory.tick(now: F.t(130_000)).ends == ["s1"])
    }

    @Test("a primary re-elected at a later epoch counts the grace again from that election")
    func graceFromNewEpoch() {
        var directory = F.directory(settings: F.quietMaintenance)
        _ = directory.started(F.primary(members: ["a", "b"]), now: F.t(0))
        let reelected = directory.update(F.primary(epoch: 2, members: ["a", "b"]), now: F.t(20_000))
        #expect(reelected.ticks == [F.t(50_000)])
        #expect(directory.tick(now: F.t(30_000)).ends == [])
        #expect(directory.tick(now: F.t(49_999)).ends == [])
        #expect(directory.tick(now: F.t(50_000)).ends == ["s1"])
        // A status of the same epoch does not restart the count.
        _ = directory.update(F.primary(epoch: 2, members: ["a", "b"], last: 3, commit: 3), now: F.t(60_000))
        #expect(directory.tick(now: F.t(80_000)).ends == ["s1"])
    }

    @Test("replicas never get an end, ingest or not")
    func replicasNeverEnd() {
        var directory = F.directory(settings: F.quietMaintenance)
        _ = directory.adopted(F.copy(), now: F.t(0))
        _ = directory.adopted(F.copy("s2", group: "g2", role: .candidate), now: F.t(0))
        directory.ingestStarted(session: "s1")
        _ = directory.ingestStopped(session: "s1", now: F.t(1_000))
        for seconds: UInt64 in [31, 61, 600, 6_000] {
            #expect(directory.tick(now: F.t(seconds * 1_000)).ends == [])
        }
    }

    @Test("a primary that is not live gets no end")
    func notLiveNoEnd() {
        var directory = F.directory(settings: F.quietMaintenance)
        _ = directory.started(F.primary(phase: .starting, members: ["a"]), now: F.t(0))
        _ = directory.started(F.primary("s2", group: "g2", phase: .ending, members: ["a"], last: 2, commit: 1), now: F.t(0))
        #expect(directory.tick(now: F.t(60_000)).ends == [])
    }

    // MARK: Timers

    @Test("a live primary here asks for a tick every maintenance interval")
    func maintenanceTicks() {
        var directory = F.directory(F.view(F.alive(["a", "b", "c"])))
        let started = directory.started(F.primary(), now: F.t(0))
        #expect(started.ticks == [F.t(500)])
        #expect(directory.tick(now: F.t(500)) == [.scheduleTick(at: F.t(1_000))])
        #expect(directory.tick(now: F.t(1_000)) == [.scheduleTick(at: F.t(1_500))])
        // A tick that fires late counts the next round from when it ran.
        #expect(directory.tick(now: F.t(1_700)) == [.scheduleTick(at: F.t(2_200))])
        // An early tick (before the round is due) asks for the same round again.
        #expect(directory.tick(now: F.t(1_800)) == [.scheduleTick(at: F.t(2_200))])
    }

    @Test("the ingest grace deadline is asked for when it comes first")
    func graceDeadlineTick() {
        var directory = F.directory(settings: F.quietMaintenance)
        #expect(directory.started(F.primary(members: ["a"]), now: F.t(0)).ticks == [F.t(3_600_000)])
        directory.ingestStarted(session: "s1")
        #expect(directory.ingestStopped(session: "s1", now: F.t(5_000)) == [.scheduleTick(at: F.t(35_000))])
        // After the end is asked, the next grace period is.
        #expect(directory.tick(now: F.t(35_000)) == [.end(session: "s1"), .scheduleTick(at: F.t(65_000))])
    }

    @Test("the settle linger deadline is asked for")
    func settleLingerTick() {
        var directory = F.directory(settings: F.quietMaintenance)
        _ = directory.started(F.primary(members: ["a"], last: 4, commit: 4), now: F.t(0))
        let ended = directory.update(F.primary(phase: .settled, members: ["a"], last: 5, commit: 5), now: F.t(7_000))
        #expect(ended.ticks == [F.t(8_000)])
        #expect(directory.tick(now: F.t(8_000)) == [.settle(session: "s1")])
    }

    @Test("with only replicas and settled copies nothing is ever scheduled (no polling)")
    func noTicksWithoutPrimaries() {
        var directory = F.directory(F.view(F.alive(["a", "b", "c"])))
        var all: [DirectoryDirective] = []
        all += directory.adopted(F.copy("s1"), now: F.t(0))
        all += directory.adopted(F.copy("s2", group: "g2", role: .candidate), now: F.t(0))
        all += directory.restored(F.copy("s3", group: "g3"), now: F.t(0))
        all += directory.restored(F.copy("s4", group: "g4", phase: .settled, last: 2, commit: 2), now: F.t(0))
        all += directory.update(F.copy("s1", last: 3, commit: 2), now: F.t(100))
        directory.ingestStarted(session: "s1")
        all += directory.ingestStopped(session: "s1", now: F.t(200))
        all += directory.viewChanged(F.view([("a", .alive), ("b", .dead), ("c", .alive)]), now: F.t(300))
        for milliseconds: UInt64 in [500, 1_000, 30_000, 600_000] {
            all += directory.tick(now: F.t(milliseconds))
        }
        #expect(all.ticks == [])
    }

    @Test("once the last primary here settles, nothing more is scheduled")
    func noTicksAfterSettle() {
        var directory = F.directory(F.view(F.alive(["a", "b", "c"])))
        _ = directory.started(F.primary(last: 4, commit: 4), now: F.t(0))
        _ = directory.update(F.primary(phase: .settled, last: 5, commit: 5), now: F.t(100))
        #expect(directory.tick(now: F.t(1_100)).withoutTicks == [.settle(session: "s1")])
        var after: [DirectoryDirective] = []
        for milliseconds: UInt64 in [1_600, 2_000, 60_000] { after += directory.tick(now: F.t(milliseconds)) }
        after += directory.update(F.primary(phase: .settled, last: 5, commit: 5), now: F.t(70_000))
        #expect(after == [])
    }

    @Test("the same deadline is not asked for twice in a row")
    func deadlineNotAskedTwice() {
        var directory = F.directory(F.view(F.alive(["a", "b", "c"])))
        #expect(directory.started(F.primary(), now: F.t(0)).ticks == [F.t(500)])
        #expect(directory.update(F.primary(last: 1, commit: 1), now: F.t(10)) == [])
        directory.ingestStarted(session: "s1")
        #expect(directory.ingestStopped(session: "s1", now: F.t(20)) == [], "the maintenance round still comes first")
        #expect(directory.started(F.primary("s2", group: "g2"), now: F.t(30)) == [.serve(group: "g2", session: "s2")])
        #expect(directory.tick(now: F.t(500)) == [.scheduleTick(at: F.t(1_000))])
        #expect(directory.update(F.primary(last: 2, commit: 2), now: F.t(600)) == [])
    }

    @Test("a primary waiting for a lagging replica to settle does not ask for a tick at every tick")
    func noBusyTickWhileLagging() {
        var directory = F.directory(settings: F.quietMaintenance)
        _ = directory.started(F.primary(last: 5, commit: 5), now: F.t(0))
        _ = directory.update(F.primary(phase: .settled, lag: ["b": 0, "c": 2], last: 6, commit: 6), now: F.t(1_000))
        for milliseconds: UInt64 in [2_000, 2_001, 2_002, 5_000] {
            let now = F.t(milliseconds)
            let ticks = directory.tick(now: now).ticks
            #expect(ticks.allSatisfy { $0 > now }, "tick at \(now) asked for \(ticks)")
        }
    }
}
