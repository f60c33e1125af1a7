import Shard
import Testing

/// Which copy answers for a group on this node, and when that changes.
@Suite("Directory: serving")
struct DirectoryServingTests {
    typealias F = DirFix

    @Test("a started copy is served once its phase is live, not before")
    func startedServedWhenLive() {
        var directory = F.directory()
        let starting = F.primary(phase: .starting)
        #expect(directory.started(starting, now: F.t(0)).withoutTicks == [])
        #expect(directory.servedCopy(group: "g1") == nil)
        // Still starting after its log moved: not served.
        var moved = starting
        moved.lastSeq = 1
        #expect(directory.update(moved, now: F.t(5)).withoutTicks == [])
        var live = moved
        live.phase = .live
        live.commitSeq = 1
        #expect(directory.update(live, now: F.t(10)).withoutTicks == [.serve(group: "g1", session: "s1")])
        #expect(directory.servedCopy(group: "g1") == live)
        #expect(directory.served == ["g1": "s1"])
        // Another status of the same live copy serves nothing twice.
        live.lastSeq = 2
        #expect(directory.update(live, now: F.t(20)).withoutTicks == [])
    }

    @Test("a restored live copy is not served until a primary confirmed it")
    func restoredServedOnlyWhenConfirmed() {
        var directory = F.directory()
        let restored = F.copy(last: 4, commit: 3)
        #expect(directory.restored(restored, now: F.t(0)) == [])
        #expect(directory.servedCopy(group: "g1") == nil)
        #expect(directory.unconfirmedCopy(group: "g1") == restored)
        // A status without confirmation (a heartbeat that confirmed nothing) still serves nothing.
        var later = restored
        later.commitSeq = 4
        #expect(directory.update(later, now: F.t(10)) == [])
        #expect(directory.servedCopy(group: "g1") == nil)
        #expect(directory.update(later, confirmed: true, now: F.t(20)) == [.serve(group: "g1", session: "s1")])
        #expect(directory.servedCopy(group: "g1") == later)
        #expect(directory.unconfirmedCopy(group: "g1") == nil)
        // Confirmation sticks.
        later.lastSeq = 5
        #expect(directory.update(later, now: F.t(30)) == [])
        #expect(directory.servedCopy(group: "g1") == later)
    }

    @Test("an adopted copy is served when live")
    func adoptedServedWhenLive() {
        var directory = F.directory()
        #expect(directory.adopted(F.copy(), now: F.t(0)) == [.serve(group: "g1", session: "s1")])
        #expect(directory.servedCopy(group: "g1")?.session == "s1")

        var other = F.directory()
        let starting = F.copy(phase: .starting)
        #expect(other.adopted(starting, now: F.t(0)) == [])
        #expect(other.update(F.copy(), now: F.t(1)) == [.serve(group: "g1", session: "s1")])
    }

    @Test("a newer session of a group replaces the older one served; an older one never replaces a newer")
    func newerSessionWins() {
        var directory = F.directory()
        #expect(directory.adopted(F.copy("s2"), now: F.t(0)) == [.serve(group: "g1", session: "s2")])
        #expect(
            directory.adopted(F.copy("s3"), now: F.t(1))
                == [.unserve(group: "g1", session: "s2"), .serve(group: "g1", session: "s3")]
        )
        #expect(directory.served == ["g1": "s3"])
        // Older than the one served: kept, not served.
        #expect(directory.adopted(F.copy("s1"), now: F.t(2)) == [])
        #expect(directory.update(F.copy("s2", last: 9, commit: 9), now: F.t(3)) == [])
        #expect(directory.served == ["g1": "s3"])
        // The same by restore and confirmation.
        #expect(directory.restored(F.copy("s0"), now: F.t(4)) == [])
        #expect(directory.update(F.copy("s0"), confirmed: true, now: F.t(5)) == [])
        #expect(directory.served == ["g1": "s3"])
        // Another group is independent.
        #expect(directory.adopted(F.copy("s1", group: "g2"), now: F.t(6)) == [.serve(group: "g2", session: "s1")])
        #expect(directory.served == ["g1": "s3", "g2": "s1"])
    }

    @Test("a copy that goes to ending or settled is unserved", arguments: [CopyPhase.ending, .settled])
    func endedUnserved(phase: CopyPhase) {
        var directory = F.directory()
        _ = directory.adopted(F.copy(last: 5, commit: 5), now: F.t(0))
        // Ending: the ended event is in the log, not known committed (commit < last).
        let ended = F.copy(phase: phase, last: 6, commit: phase == .ending ? 5 : 6)
        let directives = directory.update(ended, now: F.t(10))
        #expect(directives.first == .unserve(group: "g1", session: "s1"))
        #expect(directives.filter { $0 == .unserve(group: "g1", session: "s1") }.count == 1)
        #expect(!directives.contains { if case .serve = $0 { true } else { false } })
        #expect(directory.servedCopy(group: "g1") == nil)
        #expect(directory.served.isEmpty)
        // The copy is still held (kept for replay), just not served.
        #expect(directory.copy("s1") == ended)
        #expect(directory.update(ended, now: F.t(20)).withoutTicks.filter { $0 != .settle(session: "s1") } == [])
    }

    @Test("a dropped copy is unserved and forgotten; dropping a copy not served or not held does nothing")
    func droppedUnserves() {
        var directory = F.directory()
        _ = directory.adopted(F.copy("s2"), now: F.t(0))
        _ = directory.adopted(F.copy("s1"), now: F.t(0))
        #expect(directory.dropped("s1") == [])
        #expect(directory.copy("s1") == nil)
        #expect(directory.dropped("s2") == [.unserve(group: "g1", session: "s2")])
        #expect(directory.copy("s2") == nil)
        #expect(directory.served.isEmpty)
        #expect(directory.dropped("s2") == [])
        #expect(directory.dropped("nope") == [])
    }

    @Test("a status of a copy not held is ignored")
    func updateOfUnknownCopy() {
        var directory = F.directory()
        #expect(directory.update(F.copy(), confirmed: true, now: F.t(0)) == [])
        #expect(directory.copies.isEmpty)
        #expect(directory.served.isEmpty)
    }

    @Test("copies on disk marked removed are not loaded")
    func loadsFromDisk() {
        #expect(SessionDirectory.loadsFromDisk(markedRemoved: false))
        #expect(!SessionDirectory.loadsFromDisk(markedRemoved: true))
    }
}
