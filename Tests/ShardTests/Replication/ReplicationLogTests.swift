import Shard
import Testing

/// Log rules: the append consistency check, truncation of a divergent tail, commit by counting
/// only in the current epoch, durability before acknowledgement, stepping down.
@Suite struct ReplicationLogTests {
    @Test func truncatesADivergentUncommittedTail() {
        var replica = restoredReplica("b", epoch: 1, log: [(1, 1), (2, 1), (3, 1), (4, 1)])
        let append = appendMessage(from: "a", epoch: 2, prevSeq: 2, prevEpoch: 1, entries: [(3, 2)], commitSeq: 2)
        let directives = replica.receive(append, from: "a", now: .zero)
        #expect(directives.contains(.persistVote(epoch: 2, votedFor: nil)))
        #expect(directives.contains(.persist(entries: [.init(seq: 3, epoch: 2, kind: .data([3]))], truncateAfter: 2)))
        #expect(replica.lastSeq == 3)
        #expect(replica.lastEpoch == 2)
        #expect(replica.commitSeq == 2)
        // The tail is not durable yet, so the ack reports only the durable matching prefix.
        #expect(appendAck(directives)?.success == true)
        #expect(appendAck(directives)?.matchSeq == 2)
        let durable = replica.localDurable(upTo: 3, now: .zero)
        #expect(appendAck(durable)?.matchSeq == 3)
    }

    @Test func aDuplicateOrShorterAppendNeverTruncates() {
        var replica = restoredReplica("b", epoch: 2, log: [(1, 1), (2, 2), (3, 2)])
        let stale = appendMessage(from: "a", epoch: 2, prevSeq: 1, prevEpoch: 1, entries: [(2, 2)], commitSeq: 0)
        let directives = replica.receive(stale, from: "a", now: .zero)
        #expect(!directives.contains { if case .persist = $0 { true } else { false } })
        #expect(replica.lastSeq == 3)
    }

    @Test func rejectsAnAppendThatDoesNotFollowItsLog() {
        var replica = restoredReplica("b", epoch: 2, log: [(1, 1), (2, 1), (3, 1)])
        // A gap: the primary must back off to our last seq.
        let gap = replica.receive(
            appendMessage(from: "a", epoch: 2, prevSeq: 5, prevEpoch: 2, entries: [], commitSeq: 0),
            from: "a",
            now: .zero
        )
        #expect(appendAck(gap)?.success == false)
        #expect(appendAck(gap)?.lastSeq == 3)
        // A different epoch at prevSeq: back off past the whole divergent epoch-1 run.
        let conflict = replica.receive(
            appendMessage(from: "a", epoch: 2, prevSeq: 3, prevEpoch: 2, entries: [], commitSeq: 0),
            from: "a",
            now: .zero
        )
        #expect(appendAck(conflict)?.success == false)
        #expect(appendAck(conflict)?.lastSeq == 0)
        #expect(replica.lastSeq == 3)
        // An older epoch is answered with ours, so an old primary learns it is deposed.
        let old = replica.receive(
            appendMessage(from: "c", epoch: 1, prevSeq: 3, prevEpoch: 1, entries: [], commitSeq: 0),
            from: "c",
            now: .zero
        )
        #expect(appendAck(old)?.success == false)
        #expect(old.contains { if case .send(let m, _) = $0 { m.epoch == 2 } else { false } })
    }

    /// Raft's Figure 8: an entry of an older epoch on a majority is not committed by counting; it
    /// commits only together with an entry of the current epoch.
    @Test func commitsOnlyCurrentEpochEntriesByCounting() {
        var a = restoredReplica("a", epoch: 3, log: [(1, 1), (2, 2)])
        var directives = a.tick(now: .milliseconds(1_000))
        directives = a.receive(
            ReplicationMessage(session: ReplicaHarness.session, sender: "b", epoch: 4, kind: .preVote(granted: true)),
            from: "b",
            now: .milliseconds(1_000)
        )
        #expect(a.role == .candidate)
        directives = a.receive(
            ReplicationMessage(session: ReplicaHarness.session, sender: "b", epoch: 4, kind: .vote(granted: true)),
            from: "b",
            now: .milliseconds(1_001)
        )
        #expect(a.role == .primary)
        #expect(directives.contains(.becamePrimary(epoch: 4)))
        #expect(a.lastSeq == 3)  // its first entry of epoch 4 (the member list)
        _ = a.localDurable(upTo: 3, now: .milliseconds(1_002))
        // b holds seq 2 (epoch 2): a majority has it, but it is not of epoch 4.
        let ack2 = ReplicationMessage(
            session: ReplicaHarness.session,
            sender: "b",
            epoch: 4,
            kind: .appendAck(success: true, matchSeq: 2, lastSeq: 2)
        )
        directives = a.receive(ack2, from: "b", now: .milliseconds(1_003))
        #expect(a.commitSeq == 0)
        #expect(!directives.contains { if case .committed = $0 { true } else { false } })
        var ack3 = ack2
        ack3.kind = .appendAck(success: true, matchSeq: 3, lastSeq: 3)
        directives = a.receive(ack3, from: "b", now: .milliseconds(1_004))
        #expect(a.commitSeq == 3)
        #expect(directives.contains(.committed(upTo: 3)))
    }

    @Test func commitsOnlyWhatAMajorityHasDurable() {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        #expect(harness["a"].commitSeq == 1)
        harness.autoDurable = false
        let seq = harness.propose("a", 7)!
        harness.deliverAll()
        // Everyone has the entry in memory, nobody on disk: not committed.
        #expect(harness["b"].lastSeq == seq)
        #expect(harness["a"].commitSeq == 1)
        // The primary's own fsync plus one replica's make a majority.
        harness.flushDisk("a")
        #expect(harness["a"].commitSeq == 1)
        harness.flushDisk("b")
        harness.deliverAll()
        #expect(harness["a"].commitSeq == seq)
        #expect(harness.history["a"]!.contains(.committed(upTo: seq)))
    }

    @Test func anOldPrimaryStepsDownAndDropsItsUnacknowledgedTail() {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        harness.down = ["b", "c"]
        let lost = harness.propose("a", 1)!
        #expect(lost == 2)
        harness.inbox = []
        harness.down = ["a"]
        // b's fallback timeout fires first; c's stickiness window has passed, so it votes.
        harness.tick("b", after: ReplicationSettings.lan.electionTimeoutMax + .milliseconds(1))
        harness.deliverAll()
        let newPrimary = "b"
        #expect(harness[newPrimary].role == .primary)
        let written = harness.propose(newPrimary, 2)!
        #expect(written == 3)
        harness.deliverAll()
        // a returns: the next append carries the higher epoch.
        harness.down = []
        harness.tick(newPrimary, after: ReplicationSettings.lan.heartbeatInterval)
        harness.deliverAll()
        #expect(harness["a"].role == .replica)
        #expect(harness["a"].primary == newPrimary)
        #expect(harness.history["a"]!.contains(.steppedDown(newPrimary: newPrimary)))
        #expect(harness.history["a"]!.contains { if case .persist(_, truncateAfter: 1) = $0 { true } else { false } })
        #expect(harness["a"].entries == harness[newPrimary].entries)
        #expect(harness["a"].entry(at: 2)?.kind != .data([1]))
    }

    @Test func proposeOnAReplicaNamesThePrimary() {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        guard case .failure(let error) = harness["b"].propose([1], now: harness.now) else {
            Issue.record("a replica accepted a write")
            return
        }
        #expect(error == .notPrimary(hint: "a"))
    }
}
