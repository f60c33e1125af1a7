import Shard
import Testing

/// Replica-set changes, snapshot catch-up and leadership transfer.
@Suite struct ReplicationMembershipTests {
    @Test func aNewcomerCatchesUpThenBecomesAVoter() {
        var harness = ReplicaHarness(["a", "b", "c", "d"], memberCount: 3)
        harness.deliverAll()
        for byte in 0..<5 { _ = harness.propose("a", UInt8(byte)) }
        harness.deliverAll()
        guard case .success(let directives) = harness["a"].addMember("d", now: harness.now) else {
            Issue.record("addMember refused")
            return
        }
        #expect(harness["a"].learners == ["d"])
        #expect(harness["a"].members == ["a", "b", "c"])
        harness.apply("a", directives)
        harness.deliverAll()
        harness.tick("a", after: ReplicationSettings.lan.heartbeatInterval)
        harness.deliverAll()
        #expect(harness["a"].members == ["a", "b", "c", "d"])
        #expect(harness["a"].learners.isEmpty)
        #expect(harness["d"].members == ["a", "b", "c", "d"])
        #expect(harness["d"].entries == harness["a"].entries)
        #expect(harness["a"].commitSeq == harness["a"].lastSeq)
        #expect(harness["a"].lag["d"] == 0)
    }

    /// Under steady writes a learner's acks trail the moving commit point by a round trip; it
    /// must still become a voter once it holds what was committed when it was added (a rule that
    /// asked for the current commit point left a replica set one short for good in a chaos run).
    @Test func aLearnerTrailingSteadyWritesBecomesAVoter() {
        var harness = ReplicaHarness(["a", "b", "c"], memberCount: 2)
        harness.deliverAll()
        for byte in 0..<5 { _ = harness.propose("a", UInt8(byte)) }
        harness.deliverAll()
        guard case .success(let directives) = harness["a"].addMember("c", now: harness.now) else {
            Issue.record("addMember refused")
            return
        }
        harness.apply("a", directives)
        var held: [(message: ReplicationMessage, to: String)] = []
        var promotedAt: Int?
        for round in 0..<30 {
            // c gets the previous round's messages only after a and b have committed this
            // round's write, so its ack always names less than the commit point.
            let late = held
            held = []
            _ = harness.propose("a", UInt8(truncatingIfNeeded: round))
            harness.deliverAll(holding: "c", into: &held)
            harness.deliver(late)
            harness.deliverAll(holding: "c", into: &held)
            if promotedAt == nil, harness["a"].members.contains("c") { promotedAt = round }
        }
        #expect(promotedAt != nil, "the learner was never promoted")
        #expect(harness["a"].members == ["a", "b", "c"])
        #expect(harness["a"].learners.isEmpty)
        harness.deliver(held)
        harness.deliverAll()
        #expect(harness["c"].entries == harness["a"].entries)
        #expect(harness["a"].commitSeq == harness["a"].lastSeq)
    }

    /// A learner that never acknowledges is reported stalled once its log has stood still for
    /// the given time; one that catches up is not (the shell removes stalled learners).
    @Test func aLearnerThatMakesNoProgressIsReportedStalled() {
        var harness = ReplicaHarness(["a", "b", "c", "d"], memberCount: 3)
        harness.deliverAll()
        for byte in 0..<5 { _ = harness.propose("a", UInt8(byte)) }
        harness.deliverAll()
        harness.down = ["d"]
        guard case .success(let directives) = harness["a"].addMember("d", now: harness.now) else {
            Issue.record("addMember refused")
            return
        }
        harness.apply("a", directives)
        let stall = ReplicationDuration.milliseconds(10_000)
        #expect(harness["a"].stalledLearners(now: harness.now, stall: stall).isEmpty)
        // Heartbeat by heartbeat (b and c keep acking, so a stays primary), 5 s then 6 s more.
        let heartbeat = ReplicationSettings.lan.heartbeatInterval
        func run(_ beats: Int) {
            for _ in 0..<beats {
                harness.tick("a", after: heartbeat)
                harness.deliverAll()
                harness.tick("b", after: .zero)
                harness.tick("c", after: .zero)
                harness.deliverAll()
            }
        }
        run(100)
        #expect(harness["a"].stalledLearners(now: harness.now, stall: stall).isEmpty, "only 5 s so far")
        run(120)
        #expect(harness["a"].stalledLearners(now: harness.now, stall: stall) == ["d"])
        // Once it answers, it catches up, becomes a voter, and is no learner at all.
        harness.down = []
        run(5)
        #expect(harness["a"].role == .primary)
        #expect(harness["a"].stalledLearners(now: harness.now, stall: stall).isEmpty)
        #expect(harness["a"].members.contains("d"))
    }

    /// A learner that acknowledged entries and then lost its copy (dropped and started afresh on
    /// its node) answers with an empty log: the primary starts it over instead of waiting
    /// forever for it to continue from what it once acknowledged (seen in a long chaos run).
    @Test func aLearnerThatLostItsCopyIsStartedOver() {
        var harness = ReplicaHarness(["a", "b", "c", "d"], memberCount: 3)
        harness.deliverAll()
        for n in 0..<400 { _ = harness.propose("a", UInt8(truncatingIfNeeded: n)) }
        harness.deliverAll()
        // d acknowledges the first append's worth (256 entries) as a learner: still too far
        // behind to be promoted.
        guard case .success(let directives) = harness["a"].addMember("d", now: harness.now) else {
            Issue.record("addMember refused")
            return
        }
        harness.apply("a", directives)
        harness.deliverAll()
        #expect(harness["a"].learners == ["d"])
        #expect((harness["a"].lag["d"] ?? 0) > 64)
        // d's copy is dropped; a fresh one takes its place, and a primary's write follows.
        harness.replicas["d"] = SessionReplica(
            session: ReplicaHarness.session,
            me: "d",
            members: [],
            random: 7,
            now: harness.now
        )
        _ = harness.propose("a", 9)
        let heartbeat = ReplicationSettings.lan.heartbeatInterval
        for _ in 0..<10 {
            harness.tick("a", after: heartbeat)
            harness.deliverAll()
            harness.tick("b", after: .zero)
            harness.tick("c", after: .zero)
            harness.deliverAll()
        }
        #expect(harness["d"].entries == harness["a"].entries)
        #expect(harness["a"].lag["d"] == 0)
        #expect(harness["a"].members.contains("d"))
    }

    @Test func removesAVoterOneChangeAtATime() {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        #expect(harness["a"].removeMember("a", now: harness.now) == .failure(.cannotRemovePrimary))
        guard case .success(let directives) = harness["a"].removeMember("c", now: harness.now) else {
            Issue.record("removeMember refused")
            return
        }
        harness.apply("a", directives)
        // The change takes effect at once on the primary; a second waits for it to commit.
        #expect(harness["a"].members == ["a", "b"])
        #expect(harness["a"].removeMember("b", now: harness.now) == .failure(.configChangeInProgress))
        harness.deliverAll()
        #expect(harness["b"].members == ["a", "b"])
        #expect(harness["a"].commitSeq == harness["a"].lastSeq)
        // With c gone, a and b alone commit.
        harness.down = ["c"]
        let seq = harness.propose("a", 9)!
        harness.deliverAll()
        #expect(harness["a"].commitSeq == seq)
    }

    /// A removed voter is told only once its removal commits: a node that stopped on an
    /// uncommitted removal could deny the votes an older configuration still needs (the
    /// replication simulation found a set left with no primary that way). A learner, which never
    /// voted, is told at once.
    @Test func aRemovedNodeIsToldOnlyOnceItsRemovalCommits() {
        var harness = ReplicaHarness(["a", "b", "c", "d"], memberCount: 3)
        harness.deliverAll()
        harness.history["a"] = []
        harness.down = ["b", "c"]
        guard case .success(let directives) = harness["a"].removeMember("c", now: harness.now) else {
            Issue.record("removeMember refused")
            return
        }
        harness.apply("a", directives)
        harness.deliverAll()
        let notices = { (h: ReplicaHarness) in
            h.history["a", default: []].compactMap { d -> String? in
                if case .notifyRemoved(let node, _) = d { return node }
                return nil
            }
        }
        #expect(notices(harness).isEmpty, "told before the removal committed")
        harness.down = []
        // The next heartbeat carries the entry to b, which was down.
        harness.tick("a", after: harness["a"].settings.heartbeatInterval)
        harness.deliverAll()
        #expect(harness["a"].commitSeq == harness["a"].lastSeq)
        #expect(notices(harness) == ["c"])
        // A learner is told at once.
        guard case .success(let add) = harness["a"].addMember("d", now: harness.now) else {
            Issue.record("addMember refused")
            return
        }
        harness.apply("a", add)
        guard case .success(let remove) = harness["a"].removeMember("d", now: harness.now) else {
            Issue.record("removing the learner refused")
            return
        }
        #expect(remove.contains(.notifyRemoved(node: "d", epoch: harness["a"].epoch)))
    }

    @Test func aNewPrimaryWaitsForItsFirstEntryBeforeChanges() {
        var harness = ReplicaHarness(["a", "b", "c", "d"], memberCount: 3)
        harness.autoDurable = false
        #expect(harness["a"].addMember("d", now: harness.now) == .failure(.epochNotCommitted))
    }

    @Test func aNewcomerCatchesUpFromASnapshotAndTheTail() {
        var harness = ReplicaHarness(["a", "b", "c", "d"], memberCount: 3)
        harness.deliverAll()
        for byte in 0..<10 { _ = harness.propose("a", UInt8(byte)) }
        harness.deliverAll()
        let snapshotSeq = harness["a"].commitSeq
        harness["a"].compact(upTo: snapshotSeq, snapshot: [0xAB, 0xCD])
        #expect(harness["a"].entries.isEmpty)
        for byte in 10..<13 { _ = harness.propose("a", UInt8(byte)) }
        harness.deliverAll()
        guard case .success(let directives) = harness["a"].addMember("d", now: harness.now) else {
            Issue.record("addMember refused")
            return
        }
        harness.apply("a", directives)
        harness.deliverAll()
        harness.tick("a", after: ReplicationSettings.lan.heartbeatInterval)
        harness.deliverAll()
        let installed = harness.history["d"]!.compactMap { directive -> ReplicationSnapshot? in
            if case .installSnapshot(let snapshot) = directive { return snapshot }
            return nil
        }
        #expect(installed.count == 1)
        #expect(installed.first?.seq == snapshotSeq)
        #expect(installed.first?.data == [0xAB, 0xCD])
        #expect(installed.first?.members == ["a", "b", "c"])
        #expect(harness["d"].snapshot?.seq == snapshotSeq)
        #expect(harness["d"].entries == harness["a"].entries)
        #expect(harness["d"].lastSeq == harness["a"].lastSeq)
        #expect(harness["a"].members.contains("d"))
    }

    @Test func transferHandsThePrimaryToACaughtUpReplica() {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        _ = harness.propose("a", 1)
        guard case .success(let directives) = harness["a"].transferPrimary(to: "b", now: harness.now) else {
            Issue.record("transfer refused")
            return
        }
        harness.apply("a", directives)
        #expect(harness["a"].transferTarget == "b")
        #expect(harness.propose("a", 2) == nil)
        guard case .failure(.transferInProgress(target: "b")) = harness["a"].propose([2], now: harness.now) else {
            Issue.record("a write was accepted during the transfer")
            return
        }
        harness.deliverAll()
        #expect(harness["b"].role == .primary)
        #expect(harness["b"].epoch == 2)
        #expect(harness["a"].role == .replica)
        #expect(harness["a"].primary == "b")
        // a stepped down on b's vote request, before b was primary, so it could not name it then.
        #expect(harness.history["a"]!.contains(.steppedDown(newPrimary: nil)))
        #expect(harness["b"].entry(at: 2)?.kind == .data([1]))
        harness.deliverAll()
        #expect(harness["b"].commitSeq == harness["b"].lastSeq)
    }

    /// A replica removed while it was down never hears of it and campaigns on its old config; the
    /// members ignore it. When the primary later adds it back (the shell restores the replica count
    /// from whoever is alive), it must follow, not depose one primary after another with an epoch
    /// inflated by its ignored campaigns (found by the gossip-driven simulation).
    @Test func aReplicaRemovedWhileAwayIsAddedBackWithoutALivelock() {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        harness.down = ["c"]
        guard case .success(let removal) = harness["a"].removeMember("c", now: harness.now) else {
            Issue.record("removal refused")
            return
        }
        harness.apply("a", removal)
        harness.deliverAll()
        #expect(harness["b"].members == ["a", "b"])
        harness.down = []
        let heartbeat = ReplicationSettings.lan.heartbeatInterval
        for _ in 0..<40 {
            harness.tick("a", after: heartbeat)
            harness.tick("b", after: .zero)
            harness.tick("c", after: .zero)
            harness.deliverAll()
        }
        // Its pre-votes go unanswered: it never even raises its epoch.
        #expect(harness["c"].role == .replica)
        #expect(harness["c"].epoch == 1)
        #expect(harness["a"].role == .primary)
        guard case .success(let addition) = harness["a"].addMember("c", now: harness.now) else {
            Issue.record("addition refused")
            return
        }
        harness.apply("a", addition)
        // At most one election (c's single raised epoch), then c catches up and becomes a voter.
        for _ in 0..<60 {
            harness.tick("a", after: heartbeat)
            harness.tick("b", after: .zero)
            harness.tick("c", after: .zero)
            harness.deliverAll()
            for id in ["a", "b"] where harness[id].role == .primary && !harness[id].members.contains("c") {
                if harness[id].learners.isEmpty, case .success(let again) = harness[id].addMember("c", now: harness.now)
                {
                    harness.apply(id, again)
                }
            }
        }
        let primaries = ["a", "b", "c"].filter { harness[$0].role == .primary }
        #expect(primaries.count == 1)
        #expect(harness["c"].members == ["a", "b", "c"])
        #expect(harness["c"].primary == primaries.first)
        #expect(harness["c"].epoch <= 3)
    }

    @Test func anAbandonedTransferResumesWrites() {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        harness.down = ["b"]
        guard case .success(let directives) = harness["a"].transferPrimary(to: "b", now: harness.now) else {
            Issue.record("transfer refused")
            return
        }
        harness.apply("a", directives)
        // Heartbeats keep c in touch (a keeps its quorum) while b never answers.
        for _ in 0..<12 {
            harness.tick("a", after: ReplicationSettings.lan.heartbeatInterval)
            harness.deliverAll()
        }
        #expect(harness["a"].role == .primary)
        #expect(harness["a"].transferTarget == nil)
        #expect(harness.propose("a", 3) != nil)
    }
}
