import Shard
import Testing

/// A disk that fails (`diskFailed` / `diskRecovered`) and a copy that lost entries it may have
/// acknowledged (`lostEntriesOnDisk`).
@Suite struct ReplicationStorageFailureTests {
    /// A replica whose disk fails acknowledges nothing past what was durable before, however
    /// many entries it is sent; after recovery it rewrites them and acknowledges.
    @Test func aFailedDiskNeverAcknowledgesPastTheFailure() {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        let durableBefore = harness["b"].durableSeq
        harness.autoDurable = false
        harness.flushDisk("a")
        harness.flushDisk("c")
        // b's disk fails: its pending writes fail and are dropped by the shell.
        harness.apply("b", harness["b"].diskFailed(now: harness.now))
        harness.pendingDisk["b"] = []
        for byte in 1...5 {
            _ = harness.propose("a", UInt8(byte))
            harness.flushDisk("a")
            harness.deliverAll()
            harness.flushDisk("c")
            harness.deliverAll()
            harness.pendingDisk["b"] = []  // every write fails while the disk does
        }
        let acksFromB = (harness.history["b"] ?? []).compactMap { directive -> UInt64? in
            guard case .send(let message, _) = directive, case .appendAck(true, let match, _) = message.kind else {
                return nil
            }
            return match
        }
        #expect(acksFromB.allSatisfy { $0 <= durableBefore }, "acked \(acksFromB) past \(durableBefore)")
        #expect(harness["b"].durableSeq == durableBefore)
        #expect(harness["b"].lastSeq == harness["a"].lastSeq, "b still holds the entries in memory")
        // a and c commit without b.
        #expect(harness["a"].commitSeq == harness["a"].lastSeq)

        // Space returns: b rewrites what its core holds after the durable point.
        let rewrite = harness["b"].diskRecovered(now: harness.now)!
        #expect(rewrite.truncateAfter == durableBefore)
        #expect(rewrite.entries.map(\.seq) == Array(durableBefore + 1...harness["b"].lastSeq))
        #expect(rewrite.lastSeq == harness["b"].lastSeq)
        harness.apply("b", harness["b"].localDurable(upTo: rewrite.lastSeq, now: harness.now))
        #expect(harness["b"].durableSeq == harness["b"].lastSeq)
        harness.deliverAll()
        #expect(harness["a"].lag["b"] == 0)
        #expect(harness["b"].diskRecovered(now: harness.now) == nil, "nothing to recover twice")
    }

    /// A primary whose disk fails steps down, and neither campaigns nor grants votes until its
    /// disk recovers; a replica with a working disk takes over.
    @Test func aPrimaryWithAFailedDiskStepsDownAndStaysOut() {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        _ = harness.propose("a", 1)
        harness.deliverAll()
        let directives = harness["a"].diskFailed(now: harness.now)
        #expect(directives.contains { if case .steppedDown = $0 { true } else { false } })
        #expect(harness["a"].role == .replica)
        // Its election timer fires: no campaign.
        harness.tick("a", after: .seconds(2))
        #expect(harness["a"].role == .replica)
        #expect(harness.pending(to: "b").allSatisfy { if case .requestVote = $0.kind { false } else { true } })
        // b campaigns, pre-vote first: a refuses (it may not vote), c grants; b wins.
        harness.inbox = []
        harness.tick("b", after: .seconds(2))
        let request = harness.pending(to: "a").first!
        let answer = harness["a"].receive(request, from: "b", now: harness.now)
        #expect(answer.contains { if case .send(let m, _) = $0 { m.kind == .preVote(granted: false) } else { false } })
        harness.deliverAll()
        #expect(harness["b"].role == .primary)
        // Recovery: a votes again.
        let rewrite = harness["a"].diskRecovered(now: harness.now)!
        harness.apply("a", harness["a"].localDurable(upTo: rewrite.lastSeq, now: harness.now))
        harness.deliverAll()
        #expect(harness["a"].durableSeq == harness["b"].lastSeq)
        let later = voteRequest(from: "c", epoch: harness["a"].epoch + 1, lastSeq: 100, lastEpoch: 100)
        #expect(voteGranted(harness["a"].receive(later, from: "c", now: harness.now + .seconds(5))) == true)
    }

    /// A copy restored from a damaged log abstains: it moves to the next epoch, grants no vote
    /// and never campaigns, until it holds a commit point of an epoch after the loss.
    @Test func aCopyThatLostEntriesAbstainsUntilRepaired() {
        // c held 1...5 of epoch 2, acknowledged them, and lost 4 and 5.
        var c = restoredReplica("c", epoch: 2, votedFor: "a", log: [(1, 1), (2, 1), (3, 2)])
        let directives = c.lostEntriesOnDisk(now: .zero)
        #expect(directives == [.persistVote(epoch: 3, votedFor: nil)])
        #expect(c.epoch == 3)
        // A candidate lacking 4 and 5 asks for c's vote: refused (its vote could lose them).
        let request = voteRequest(from: "b", epoch: 4, lastSeq: 3, lastEpoch: 2)
        #expect(voteGranted(c.receive(request, from: "b", now: .seconds(10))) == false)
        // Its own election timer: no campaign.
        let tick = c.tick(now: .seconds(20))
        #expect(!tick.contains { if case .send(let m, _) = $0, case .requestVote = m.kind { true } else { false } })
        #expect(c.role == .replica)
        // An old primary of epoch 2 is told about epoch 3+ (deposed), not followed.
        let old = appendMessage(from: "a", epoch: 2, prevSeq: 3, prevEpoch: 2, entries: [], commitSeq: 3)
        #expect(appendAck(c.receive(old, from: "a", now: .seconds(21)))?.success == false)
        // The primary of epoch 5 ships 4, 5 and its own config entry 6, committed: once durable,
        // c votes again.
        let entries = [
            ReplicationEntry(seq: 4, epoch: 2, kind: .data([4])), ReplicationEntry(seq: 5, epoch: 2, kind: .data([5])),
            ReplicationEntry(seq: 6, epoch: 5, kind: .config(["a", "b", "c"])),
        ]
        let append = ReplicationMessage(
            session: ReplicaHarness.session,
            sender: "a",
            epoch: 5,
            kind: .append(prevSeq: 3, prevEpoch: 2, entries: entries, commitSeq: 6)
        )
        _ = c.receive(append, from: "a", now: .seconds(22))
        #expect(c.abstainingAtOrBelow == 2, "not yet durable")
        _ = c.localDurable(upTo: 6, now: .seconds(22))
        #expect(c.abstainingAtOrBelow == nil)
        let next = voteRequest(from: "b", epoch: 6, lastSeq: 6, lastEpoch: 5)
        #expect(voteGranted(c.receive(next, from: "b", now: .seconds(40))) == true)
    }

    /// A commit point of the epoch of the loss is not enough: an entry committed thanks to this
    /// copy's lost acknowledgement could lie after it.
    @Test func aCommitOfTheOldEpochDoesNotEndTheAbstention() {
        var c = restoredReplica("c", epoch: 2, log: [(1, 1), (2, 2)])
        _ = c.lostEntriesOnDisk(now: .zero)
        let entries = [ReplicationEntry(seq: 3, epoch: 2, kind: .data([3]))]
        let append = ReplicationMessage(
            session: ReplicaHarness.session,
            sender: "a",
            epoch: 3,
            kind: .append(prevSeq: 2, prevEpoch: 2, entries: entries, commitSeq: 3)
        )
        _ = c.receive(append, from: "a", now: .seconds(1))
        _ = c.localDurable(upTo: 3, now: .seconds(1))
        #expect(c.commitSeq == 3)
        #expect(c.abstainingAtOrBelow == 2)
    }

    /// In a set of two, the other member cannot win without this copy's vote: it votes.
    @Test func aSetOfTwoDoesNotWaitForAnAbstainer() {
        var b = restoredReplica("b", members: ["a", "b"], epoch: 2, log: [(1, 1)])
        _ = b.lostEntriesOnDisk(now: .zero)
        let request = voteRequest(from: "a", epoch: 4, lastSeq: 1, lastEpoch: 1)
        #expect(voteGranted(b.receive(request, from: "a", now: .seconds(10))) == true)
    }
}
