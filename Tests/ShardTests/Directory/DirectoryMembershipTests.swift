import Shard
import Testing

/// Campaigns on a view change, and removal notices from a primary.
@Suite("Directory: campaigns and removal notices")
struct DirectoryMembershipTests {
    typealias F = DirFix

    @Test(
        "a copy whose primary is suspect, dead or left campaigns; not when it is alive",
        arguments: [DirFix.State.suspect, .dead, .left]
    )
    func campaignWhenPrimaryLost(state: DirFix.State) {
        var directory = F.directory(F.view(F.alive(["a", "b", "c"])))
        _ = directory.adopted(F.copy("s1", primary: "b"), now: F.t(0))
        _ = directory.adopted(F.copy("s2", group: "g2", primary: "c"), now: F.t(0))
        // A candidate (an election under way) is not a primary: it campaigns again too.
        _ = directory.adopted(F.copy("s3", group: "g3", role: .candidate, primary: "b"), now: F.t(0))
        let lost = F.view([("a", .alive), ("b", state), ("c", .alive)])
        #expect(directory.viewChanged(lost, now: F.t(10)) == [.campaign(session: "s1"), .campaign(session: "s3")])
        #expect(directory.view.members["b"] == state)
        #expect(directory.viewChanged(F.view(F.alive(["a", "b", "c"])), now: F.t(20)) == [])
    }

    @Test("a primary never campaigns, whoever is lost")
    func primaryNeverCampaigns() {
        var directory = F.directory(F.view(F.alive(["a", "b", "c"])))
        _ = directory.started(F.primary(), now: F.t(0))
        #expect(directory.viewChanged(F.view([("a", .alive), ("b", .dead), ("c", .dead)]), now: F.t(10)) == [])
        #expect(directory.viewChanged(F.view([("a", .suspect), ("b", .dead), ("c", .left)]), now: F.t(20)) == [])
    }

    @Test("a copy with no known primary does not campaign on a view change")
    func noPrimaryNoCampaign() {
        var directory = F.directory()
        _ = directory.adopted(F.copy(primary: nil), now: F.t(0))
        #expect(directory.viewChanged(F.view([("a", .alive), ("b", .dead), ("c", .dead)]), now: F.t(10)) == [])
    }

    @Test("a removal notice of the copy's epoch or later retires (and unserves) a replica")
    func removalRetires() {
        for noticeEpoch: UInt64 in [3, 4] {
            var directory = F.directory()
            _ = directory.adopted(F.copy(epoch: 3), now: F.t(0))
            #expect(
                directory.removalNotice(session: "s1", epoch: noticeEpoch)
                    == [.unserve(group: "g1", session: "s1"), .retire(session: "s1", removedAtEpoch: noticeEpoch)]
            )
            #expect(directory.copy("s1") == nil)
            #expect(directory.servedCopy(group: "g1") == nil)
            #expect(!directory.timersRun("s1"))
            #expect(directory.removalNotice(session: "s1", epoch: noticeEpoch) == [], "already gone")
        }
        // A copy not served (an older session of the group) retires without an unserve.
        var directory = F.directory()
        _ = directory.adopted(F.copy("s2", epoch: 1), now: F.t(0))
        _ = directory.adopted(F.copy("s1", epoch: 1), now: F.t(0))
        #expect(directory.removalNotice(session: "s1", epoch: 1) == [.retire(session: "s1", removedAtEpoch: 1)])
        #expect(directory.served == ["g1": "s2"])
        // A candidate retires too.
        _ = directory.adopted(F.copy("s3", group: "g3", role: .candidate, epoch: 2), now: F.t(0))
        #expect(directory.removalNotice(session: "s3", epoch: 2).last == .retire(session: "s3", removedAtEpoch: 2))
    }

    @Test("a removal notice is ignored by a primary")
    func removalIgnoredByPrimary() {
        var directory = F.directory()
        _ = directory.started(F.primary(epoch: 3), now: F.t(0))
        #expect(directory.removalNotice(session: "s1", epoch: 3) == [])
        #expect(directory.removalNotice(session: "s1", epoch: 9) == [])
        #expect(directory.copy("s1") != nil)
        #expect(directory.servedCopy(group: "g1")?.session == "s1")
    }

    @Test("a removal notice older than the copy's epoch is ignored (the newer primary may have added it back)")
    func staleRemovalIgnored() {
        var directory = F.directory()
        // Removed at epoch 4 by the old primary, added back at epoch 5 by the new one: the notice
        // of epoch 4 arrives late.
        _ = directory.adopted(F.copy(epoch: 5, primary: "c", last: 7, commit: 7), now: F.t(0))
        #expect(directory.removalNotice(session: "s1", epoch: 4) == [])
        #expect(directory.copy("s1") != nil)
        #expect(directory.servedCopy(group: "g1")?.session == "s1")
        #expect(directory.timersRun("s1"))
    }

    @Test("a removal notice of a copy not held does nothing")
    func removalOfUnknownCopy() {
        var directory = F.directory()
        #expect(directory.removalNotice(session: "s1", epoch: 1) == [])
    }
}
