import Live
import Shard
import Testing

/// Issue 16's two directory rules: a group's own log is never ended for want of an ingest, and
/// an ended copy whose outbox still owes webhooks does not settle (so a primary keeps sending,
/// and a replica that holds them can still be elected).
@Suite("Directory: group logs and webhook outboxes")
struct DirectoryOutboxTests {
    typealias F = DirFix

    @Test("a permanent copy (a group log) gets no end from the ingest grace, before or after a failover")
    func permanentNeverEnded() {
        var directory = F.directory(settings: F.quietMaintenance)
        var log = F.primary(members: ["a"])
        log.permanent = true
        _ = directory.started(log, now: F.t(0))
        directory.ingestStarted(session: "s1")
        _ = directory.ingestStopped(session: "s1", now: F.t(1_000))
        #expect(directory.tick(now: F.t(31_000)).ends == [])
        // Elected after a failover: an ordinary live counts its grace from the election.
        var elected = F.copy(role: .replica, members: ["a", "b"])
        elected.permanent = true
        var other = F.directory(settings: F.quietMaintenance)
        _ = other.adopted(elected, now: F.t(0))
        var primary = F.primary(epoch: 2, members: ["a", "b"])
        primary.permanent = true
        _ = other.update(primary, now: F.t(1_000))
        #expect(other.tick(now: F.t(3_600_000)).ends == [])
        // The same copy without the flag is ended: the rule is the flag, not the timing.
        primary.permanent = false
        var plain = F.directory(settings: F.quietMaintenance)
        _ = plain.adopted(F.copy(role: .replica, members: ["a", "b"]), now: F.t(0))
        _ = plain.update(primary, now: F.t(1_000))
        #expect(plain.tick(now: F.t(31_000)).ends == ["s1"])
    }

    @Test("an ended replica with webhooks owed does not settle; it settles once they are acknowledged")
    func replicaWaitsForOutbox() {
        var directory = F.directory()
        _ = directory.adopted(F.copy(last: 5, commit: 5), now: F.t(0))
        var owed = F.copy(phase: .settled, last: 6, commit: 6)
        owed.outboxPending = true
        #expect(directory.update(owed, now: F.t(10)).settles == [])
        #expect(directory.tick(now: F.t(600_000)).settles == [])
        #expect(directory.timersRun("s1"), "its timers run: it can campaign if the primary dies")
        // The primary's cursor record arrives (one more entry), then commits.
        owed.lastSeq = 7
        #expect(directory.update(owed, now: F.t(700_000)).settles == [])
        var done = F.copy(phase: .settled, last: 7, commit: 7)
        done.outboxPending = false
        #expect(directory.update(done, now: F.t(700_100)).settles == ["s1"])
    }

    @Test("an ended primary with webhooks owed lingers past the settle linger until they are acknowledged")
    func primaryWaitsForOutbox() {
        var directory = F.directory(settings: F.quietMaintenance)
        _ = directory.started(F.primary(phase: .starting), now: F.t(0))
        var ended = F.primary(phase: .settled, last: 6, commit: 6)
        ended.outboxPending = true
        _ = directory.update(ended, now: F.t(2_000))
        #expect(directory.tick(now: F.t(60_000)).settles == [])
        ended.outboxPending = false
        ended.lastSeq = 7
        ended.commitSeq = 7
        _ = directory.update(ended, now: F.t(61_000))
        #expect(directory.tick(now: F.t(62_000)).settles == ["s1"], "after the linger from its last commit")
    }

    @Test("a copy restored from disk with webhooks owed is not settled at once")
    func restoredWithOutbox() {
        var directory = F.directory()
        var owed = F.copy(phase: .settled, last: 6, commit: 6)
        owed.outboxPending = true
        #expect(directory.restored(owed, now: F.t(0)).settles == [])
        #expect(!directory.isSettled("s1"))
        owed.outboxPending = false
        #expect(directory.restored(owed, now: F.t(0)).settles == ["s1"])
    }

    @Test("a group's log is placed with its group: one primary usually leads both and orders the group's webhooks")
    func groupLogPlacedWithItsGroup() throws {
        #expect(DirectoryView.placementKey(GroupLog.logGroup(of: "g1")) == "g1")
        #expect(DirectoryView.placementKey("g1") == "g1")
        let view = F.view(F.alive(F.five))
        #expect(view.preferenceList(for: GroupLog.logGroup(of: "g7")) == view.preferenceList(for: "g7"))
        #expect(
            SessionDirectory.likelyHolders(group: "~g7", view: view, settings: DirectorySettings())
                == SessionDirectory.likelyHolders(group: "g7", view: view, settings: DirectorySettings())
        )
    }
}
