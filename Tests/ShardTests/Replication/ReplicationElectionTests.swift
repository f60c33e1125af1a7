import Foundation
import Shard
import Testing

/// Election rules: one vote per epoch, the up-to-date check, stickiness, who may campaign.
@Suite struct ReplicationElectionTests {
    @Test func votesOncePerEpochAndPersistsTheVoteFirst() {
        var replica = restoredReplica("b", epoch: 1, log: [(1, 1)])
        let first = replica.receive(voteRequest(from: "a", epoch: 2, lastSeq: 1, lastEpoch: 1), from: "a", now: .zero)
        #expect(voteGranted(first) == true)
        // The vote is persisted before the reply is sent.
        let persistIndex = first.firstIndex(of: .persistVote(epoch: 2, votedFor: "a"))
        let sendIndex = first.firstIndex { if case .send = $0 { true } else { false } }
        #expect(persistIndex != nil && sendIndex != nil && persistIndex! < sendIndex!)

        let rival = replica.receive(voteRequest(from: "c", epoch: 2, lastSeq: 1, lastEpoch: 1), from: "c", now: .zero)
        #expect(voteGranted(rival) == false)
        // Asking again (a retransmission) gets the same answer.
        let again = replica.receive(voteRequest(from: "a", epoch: 2, lastSeq: 1, lastEpoch: 1), from: "a", now: .zero)
        #expect(voteGranted(again) == true)

        // The vote survives a restart.
        var restarted = restoredReplica("b", epoch: 2, votedFor: "a", log: [(1, 1)])
        let afterRestart = restarted.receive(
            voteRequest(from: "c", epoch: 2, lastSeq: 1, lastEpoch: 1),
            from: "c",
            now: .zero
        )
        #expect(voteGranted(afterRestart) == false)
    }

    @Test func grantsOnlyToAnUpToDateLog() {
        var replica = restoredReplica("b", epoch: 2, log: [(1, 1), (2, 2), (3, 2)])
        // Longer log but older last epoch: refused.
        #expect(
            voteGranted(
                replica.receive(voteRequest(from: "a", epoch: 3, lastSeq: 10, lastEpoch: 1), from: "a", now: .zero)
            ) == false
        )
        // Same last epoch, shorter: refused.
        #expect(
            voteGranted(
                replica.receive(voteRequest(from: "a", epoch: 4, lastSeq: 2, lastEpoch: 2), from: "a", now: .zero)
            ) == false
        )
        // Same last epoch, same length: granted.
        #expect(
            voteGranted(
                replica.receive(voteRequest(from: "a", epoch: 5, lastSeq: 3, lastEpoch: 2), from: "a", now: .zero)
            ) == true
        )
        // Newer last epoch, shorter log: granted.
        #expect(
            voteGranted(
                replica.receive(voteRequest(from: "c", epoch: 6, lastSeq: 1, lastEpoch: 3), from: "c", now: .zero)
            ) == true
        )
        #expect(replica.epoch == 6)
    }

    @Test func refusesAnOlderEpochAndIgnoresStrangers() {
        var replica = restoredReplica("b", epoch: 5, log: [(1, 1)])
        let old = replica.receive(voteRequest(from: "a", epoch: 4, lastSeq: 9, lastEpoch: 4), from: "a", now: .zero)
        #expect(voteGranted(old) == false)
        // A node outside the member list (e.g. a removed replica) cannot even raise our epoch.
        let stranger = replica.receive(
            voteRequest(from: "x", epoch: 9, lastSeq: 9, lastEpoch: 9),
            from: "x",
            now: .zero
        )
        #expect(stranger.isEmpty)
        #expect(replica.epoch == 5)
    }

    @Test func stickyWhilePrimaryIsHeardAndFreedByPrimaryLost() {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        #expect(harness["b"].primary == "a")
        let request = voteRequest(from: "c", epoch: 2, lastSeq: 9, lastEpoch: 1)
        #expect(harness["b"].receive(request, from: "c", now: harness.now).isEmpty)
        #expect(harness["b"].epoch == 1)
        // Gossip says the primary is gone: b listens to candidates at once.
        _ = harness["b"].primaryLost(now: harness.now)
        #expect(voteGranted(harness["b"].receive(request, from: "c", now: harness.now)) == true)
    }

    @Test func primaryLostStartsAnElectionWithinTheJitter() {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        harness.down = ["a"]
        // Gossip tells every replica; each waits a random 0–20 ms, so one usually asks first.
        harness.apply("c", harness["c"].primaryLost(now: harness.now))
        harness.apply("b", harness["b"].primaryLost(now: harness.now))
        harness.tick("b", after: ReplicationSettings.lan.primaryLostJitter)
        // It asks for pre-votes first, still a replica in epoch 1.
        #expect(harness["b"].role == .replica && harness["b"].epoch == 1)
        #expect(harness.pending(to: "c").contains { if case .preVoteRequest = $0.kind { true } else { false } })
        harness.deliverAll()
        // Whichever of b and c asked first won; the other follows it.
        let winner = harness["b"].role == .primary ? "b" : "c"
        let other = winner == "b" ? "c" : "b"
        #expect(harness[winner].role == .primary)
        #expect(harness[other].primary == winner)
        #expect(harness.history[winner]!.contains(.becamePrimary(epoch: harness[winner].epoch)))
    }

    @Test func fallbackTimeoutElectsAfterSilence() {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        harness.down = ["a"]
        harness.tick("c", after: ReplicationSettings.lan.electionTimeoutMin - .milliseconds(1))
        #expect(harness["c"].role == .replica)
        harness.tick("c", after: ReplicationSettings.lan.electionTimeoutMax)
        #expect(harness["c"].role == .replica && harness["c"].epoch == 1)
        harness.deliverAll()
        #expect(harness["c"].role == .primary)
        #expect(harness["c"].epoch == 2)
    }

    /// A copy nobody answers (the voters ignore a node outside their configuration, or it is cut
    /// off) asks for pre-votes at every timeout and never raises its epoch; a refusal from its own
    /// epoch changes nothing, one from a later epoch is adopted (it was behind), with no vote.
    @Test func aCopyNobodyAnswersKeepsItsEpoch() {
        var c = restoredReplica("c", epoch: 1, log: [(1, 1)])
        for second in 1...6 {
            let retry = c.tick(now: .milliseconds(1_000 * UInt64(second)))
            #expect(c.epoch == 1 && c.role == .replica && c.votedFor == nil)
            #expect(!retry.contains { if case .persistVote = $0 { true } else { false } })
            #expect(retry.filter { if case .send = $0 { true } else { false } }.count == 2)
        }
        let sameEpoch = ReplicationMessage(
            session: ReplicaHarness.session,
            sender: "b",
            epoch: 1,
            kind: .preVote(granted: false)
        )
        #expect(c.receive(sameEpoch, from: "b", now: .milliseconds(6_001)).isEmpty)
        #expect(c.epoch == 1)
        let later = ReplicationMessage(
            session: ReplicaHarness.session,
            sender: "b",
            epoch: 4,
            kind: .preVote(granted: false)
        )
        let adopted = c.receive(later, from: "b", now: .milliseconds(6_002))
        #expect(c.epoch == 4 && c.votedFor == nil && c.role == .replica)
        #expect(adopted == [.persistVote(epoch: 4, votedFor: nil)])
    }

    @Test func aReplicaWithAnEmptyLogNeverCampaigns() {
        var replica = SessionReplica(session: "s", me: "b", members: ["a", "b", "c"], random: 3, now: .zero)
        let directives = replica.tick(now: .milliseconds(10_000)) + replica.primaryLost(now: .milliseconds(10_001))
        #expect(directives.isEmpty)
        #expect(replica.role == .replica)
        #expect(replica.epoch == 0)
    }

    @Test func primaryCutOffFromMajorityStepsDown() {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        harness.down = ["b", "c"]
        harness.tick("a", after: ReplicationSettings.lan.electionTimeoutMax + .milliseconds(1))
        #expect(harness["a"].role == .replica)
        #expect(harness.history["a"]!.contains(.steppedDown(newPrimary: nil)))
    }

    @Test func messagesRoundTripThroughJSON() throws {
        let snapshot = ReplicationSnapshot(seq: 7, epoch: 2, members: ["a", "b"], data: [1, 2, 3])
        let messages: [ReplicationMessage.Kind] = [
            .append(prevSeq: 1, prevEpoch: 1, entries: [.init(seq: 2, epoch: 2, kind: .config(["a"]))], commitSeq: 1),
            .appendAck(success: true, matchSeq: 2, lastSeq: 2),
            .requestVote(lastSeq: 2, lastEpoch: 2, transfer: true),
            .vote(granted: false),
            .installSnapshot(snapshot),
            .snapshotAck(matchSeq: 7),
            .timeoutNow,
            .preVoteRequest(lastSeq: 2, lastEpoch: 2),
            .preVote(granted: true),
        ]
        for kind in messages {
            let message = ReplicationMessage(session: "s", sender: "a", epoch: 3, kind: kind)
            let decoded = try JSONDecoder().decode(ReplicationMessage.self, from: JSONEncoder().encode(message))
            #expect(decoded == message)
        }
    }
}
