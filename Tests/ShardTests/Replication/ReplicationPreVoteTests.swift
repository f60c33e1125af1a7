import Shard
import Testing

/// Pre-vote (Raft thesis §9.6) and check-quorum: a copy that was cut off or stalled cannot raise
/// the epoch and depose a primary the others still hear; a majority that lost its primary elects
/// in one pre-vote and one vote round; a transfer skips the pre-vote; a primary out of touch with
/// a majority stops taking writes and steps down.
@Suite struct ReplicationPreVoteTests {
    static let heartbeat = ReplicationSettings.lan.heartbeatInterval
    static let timeoutMax = ReplicationSettings.lan.electionTimeoutMax

    /// Runs the set for `duration`: the primary heartbeats, everyone's timers run, messages flow
    /// (except to and from `harness.down`).
    static func run(_ harness: inout ReplicaHarness, for duration: ReplicationDuration, skipping: Set<String> = []) {
        var elapsed = ReplicationDuration.zero
        while elapsed < duration {
            harness.now = harness.now + .milliseconds(10)
            elapsed = elapsed + .milliseconds(10)
            for id in harness.replicas.keys.sorted() where !skipping.contains(id) {
                harness.apply(id, harness[id].tick(now: harness.now))
            }
            harness.deliverAll()
        }
    }

    static func sent(_ directives: [ReplicationDirective], where match: (ReplicationMessage.Kind) -> Bool) -> Int {
        directives.filter { if case .send(let message, _) = $0 { match(message.kind) } else { false } }.count
    }

    static func isPreVoteRequest(_ kind: ReplicationMessage.Kind) -> Bool {
        if case .preVoteRequest = kind { true } else { false }
    }

    static func isVoteRequest(_ kind: ReplicationMessage.Kind) -> Bool {
        if case .requestVote = kind { true } else { false }
    }

    @Test func aPartitionedReplicaRejoiningDoesNotRaiseTheEpoch() {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        harness.down = ["c"]
        // Cut off for 3 s: c's timer fires again and again, its pre-votes reach no one.
        Self.run(&harness, for: .milliseconds(3_000))
        #expect(Self.sent(harness.history["c"]!, where: Self.isPreVoteRequest) >= 8)
        #expect(harness["c"].epoch == 1 && harness["c"].role == .replica)
        _ = harness.propose("a", 7)
        harness.down = []
        // Back: its pre-votes meet a primary and a replica that hears it, and are refused.
        Self.run(&harness, for: .milliseconds(2_000))
        for id in ["a", "b", "c"] { #expect(harness[id].epoch == 1, "\(id)") }
        #expect(harness["a"].role == .primary)
        #expect(harness["c"].primary == "a")
        // It stored epoch 1 when it first followed a, and nothing since.
        #expect(!harness.history["c"]!.contains { if case .persistVote(let e, _) = $0 { e > 1 } else { false } })
    }

    @Test func aStalledReplicaThatResumesDoesNotDeposeThePrimary() {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        // c is frozen for 6 s: no timers run there, what is sent to it waits in its socket.
        var held: [(message: ReplicationMessage, to: String)] = []
        var elapsed = ReplicationDuration.zero
        while elapsed < .milliseconds(6_000) {
            harness.now = harness.now + .milliseconds(10)
            elapsed = elapsed + .milliseconds(10)
            for id in ["a", "b"] { harness.apply(id, harness[id].tick(now: harness.now)) }
            harness.deliverAll(holding: "c", into: &held)
        }
        #expect(harness["a"].role == .primary)
        // Resumed: its overdue timer runs before it reads what waited for it.
        harness.apply("c", harness["c"].tick(now: harness.now))
        #expect(Self.sent(harness.history["c"]!, where: Self.isPreVoteRequest) == 2)
        harness.deliverAll()
        harness.deliver(held)
        Self.run(&harness, for: .milliseconds(2_000))
        for id in ["a", "b", "c"] { #expect(harness[id].epoch == 1, "\(id)") }
        #expect(harness["a"].role == .primary)
        #expect(harness["c"].primary == "a")
    }

    @Test func aMajorityThatLostItsPrimaryElectsInOnePreVoteAndOneVoteRound() {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        harness.down = ["a"]
        // Nothing from a: b's own timer (no gossip involved) fires within a maximal timeout.
        harness.tick("b", after: Self.timeoutMax)
        #expect(harness["b"].role == .replica && harness["b"].epoch == 1)
        #expect(Self.sent(harness.history["b"]!, where: Self.isPreVoteRequest) == 2)
        harness.deliverAll()
        #expect(harness["b"].role == .primary)
        #expect(harness["b"].epoch == 2 && harness["c"].epoch == 2)
        #expect(harness["c"].primary == "b")
        #expect(Self.sent(harness.history["b"]!, where: Self.isPreVoteRequest) == 2)
        #expect(Self.sent(harness.history["b"]!, where: Self.isVoteRequest) == 2)
    }

    @Test func aPreVoteChangesNothingAtTheMember() {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        let request = ReplicationMessage(
            session: ReplicaHarness.session,
            sender: "c",
            epoch: 2,
            kind: .preVoteRequest(lastSeq: 9, lastEpoch: 1)
        )
        // b hears a: refused, with b's own epoch.
        let refused = harness["b"].receive(request, from: "c", now: harness.now)
        #expect(refused.count == 1)
        guard case .send(let answer, "c")? = refused.first else {
            Issue.record("no answer: \(refused)")
            return
        }
        #expect(answer.kind == .preVote(granted: false) && answer.epoch == 1)
        // The primary itself never grants one.
        let byPrimary = harness["a"].receive(request, from: "c", now: harness.now)
        #expect(
            byPrimary.contains { if case .send(let m, _) = $0 { m.kind == .preVote(granted: false) } else { false } }
        )
        // Past its lease (a minimal election timeout with no heartbeat), b grants, and still
        // changes nothing: no epoch, no stored vote, and a's next append is followed as before.
        let later = harness.now + ReplicationSettings.lan.electionTimeoutMin
        let granted = harness["b"].receive(request, from: "c", now: later)
        #expect(granted.count == 1)
        #expect(
            granted.first.map {
                if case .send(let m, _) = $0 { m.kind == .preVote(granted: true) && m.epoch == 2 } else { false }
            } == true
        )
        #expect(harness["b"].epoch == 1 && harness["b"].votedFor == nil && harness["b"].primary == "a")
        // A log behind ours is refused even then.
        let stale = ReplicationMessage(
            session: ReplicaHarness.session,
            sender: "c",
            epoch: 2,
            kind: .preVoteRequest(lastSeq: 0, lastEpoch: 0)
        )
        let behind = harness["b"].receive(stale, from: "c", now: later)
        #expect(behind.contains { if case .send(let m, _) = $0 { m.kind == .preVote(granted: false) } else { false } })
        // A stranger (a node outside the configuration) gets no answer at all.
        var strange = request
        strange.sender = "x"
        #expect(harness["b"].receive(strange, from: "x", now: later).isEmpty)
    }

    @Test func gossipsPrimaryLostAlsoGoesThroughPreVote() {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        // Gossip wrongly suspects a at b only (b is starved, say): c still hears a and refuses.
        harness.apply("b", harness["b"].primaryLost(now: harness.now))
        harness.tick("b", after: ReplicationSettings.lan.primaryLostJitter)
        #expect(Self.sent(harness.history["b"]!, where: Self.isPreVoteRequest) == 2)
        harness.deliverAll()
        Self.run(&harness, for: .milliseconds(1_000))
        for id in ["a", "b", "c"] { #expect(harness[id].epoch == 1, "\(id)") }
        #expect(harness["a"].role == .primary)
    }

    @Test func aTransferSkipsThePreVote() {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        guard case .success(let directives) = harness["a"].transferPrimary(to: "b", now: harness.now) else {
            Issue.record("transfer refused")
            return
        }
        harness.apply("a", directives)
        // c still hears a (its lease holds): a pre-vote would be refused, the transfer is not.
        harness.deliverAll()
        #expect(harness["b"].role == .primary && harness["b"].epoch == 2)
        #expect(harness["a"].primary == "b" && harness["c"].primary == "b")
        #expect(Self.sent(harness.history["b"]!, where: Self.isPreVoteRequest) == 0)
    }

    @Test func checkQuorumStepsDownAnIsolatedPrimary() {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        harness.down = ["a"]
        Self.run(&harness, for: Self.timeoutMax + .milliseconds(100))
        #expect(harness["a"].role == .replica)
        #expect(harness.history["a"]!.contains(.steppedDown(newPrimary: nil)))
        #expect(harness.propose("a", 1) == nil)
        // b and c elected one of themselves meanwhile; a, back, follows it at its epoch.
        let primaries = ["b", "c"].filter { harness[$0].role == .primary }
        #expect(primaries.count == 1)
        harness.down = []
        Self.run(&harness, for: .milliseconds(500))
        #expect(harness["a"].primary == primaries.first)
        #expect(harness["a"].epoch == harness[primaries.first!].epoch)
    }

    /// A primary frozen (SIGSTOP) past an election timeout takes no write when it resumes, even
    /// before its timer runs check-quorum, and steps down at that timer; its replicas elected
    /// another primary meanwhile, on their own timers.
    @Test func aFrozenPrimaryResumedTakesNoWriteAndStepsDown() {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        var held: [(message: ReplicationMessage, to: String)] = []
        var elapsed = ReplicationDuration.zero
        var electedAfter: ReplicationDuration?
        while elapsed < .milliseconds(6_000) {
            harness.now = harness.now + .milliseconds(10)
            elapsed = elapsed + .milliseconds(10)
            for id in ["b", "c"] { harness.apply(id, harness[id].tick(now: harness.now)) }
            harness.deliverAll(holding: "a", into: &held)
            if electedAfter == nil, harness["b"].role == .primary || harness["c"].role == .primary {
                electedAfter = elapsed
            }
        }
        // One election, on the replicas' own evidence, within a maximal timeout and a few rounds.
        #expect(electedAfter != nil && electedAfter! <= Self.timeoutMax + .milliseconds(50))
        #expect(harness["b"].epoch == 2 && harness["c"].epoch == 2)
        #expect(harness["a"].role == .primary)  // frozen: it has not run since
        #expect(harness.propose("a", 9) == nil)
        harness.apply("a", harness["a"].tick(now: harness.now))
        #expect(harness["a"].role == .replica)
        harness.deliver(held)
        Self.run(&harness, for: .milliseconds(500))
        let primary = harness["b"].role == .primary ? "b" : "c"
        #expect(harness["a"].primary == primary && harness["a"].epoch == 2)
        #expect(["a", "b", "c"].filter { harness[$0].role == .primary } == [primary])
    }
}
