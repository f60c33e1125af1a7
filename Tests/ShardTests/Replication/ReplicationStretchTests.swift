import Shard
import Testing

/// `SessionReplica.timeoutStretch`: a node that measured its own timers running late (a starved
/// CPU) stretches its election timeout, stickiness and check-quorum windows, so hearing its
/// primary late does not make it campaign, nor a late-acked primary step down. Each test runs
/// the same scenario with stretch 1 as the control, which must do what the stretch prevents.
@Suite struct ReplicationStretchTests {
    typealias Run = ReplicationPreVoteTests

    /// The pre-vote requests `c` sent while it heard nothing for `silence`, at `stretch`.
    static func preVotesDuringSilence(stretch: Double, silence: UInt64) -> Int {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        Run.run(&harness, for: .milliseconds(200))
        // Set after the election timer was drawn at stretch 1: the tick must re-measure it.
        harness["c"].timeoutStretch = stretch
        let before = Run.sent(harness.history["c"]!, where: Run.isPreVoteRequest)
        harness.down = ["c"]
        Run.run(&harness, for: .milliseconds(silence))
        return Run.sent(harness.history["c"]!, where: Run.isPreVoteRequest) - before
    }

    @Test func aLateReplicaWaitsItsStretchedTimeoutBeforeCampaigning() {
        // 900 ms without a heartbeat: past the 300-600 ms timeout, inside 4 x 300 ms.
        #expect(
            Self.preVotesDuringSilence(stretch: 1, silence: 900) > 0,
            "control: the unstretched copy never campaigned"
        )
        #expect(
            Self.preVotesDuringSilence(stretch: 4, silence: 900) == 0,
            "a copy stretched 4x campaigned within 900 ms"
        )
        // The stretch delays, it does not disable: a long enough silence still elects.
        #expect(Self.preVotesDuringSilence(stretch: 4, silence: 3_000) > 0, "a stretched copy never campaigned")
    }

    /// Whether primary `a` is still primary after its replicas' acks stopped for `silence`.
    static func primaryKeepsTheRole(stretch: Double, silence: UInt64) -> Bool {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        Run.run(&harness, for: .milliseconds(200))
        harness["a"].timeoutStretch = stretch
        // b and c neither tick nor answer: a hears no ack for `silence`.
        harness.down = ["b", "c"]
        Run.run(&harness, for: .milliseconds(silence), skipping: ["b", "c"])
        return harness["a"].role == .primary
    }

    @Test func aLatePrimaryKeepsTheRoleWithinItsStretchedCheckQuorum() {
        #expect(!Self.primaryKeepsTheRole(stretch: 1, silence: 900), "control: check-quorum did not step down")
        #expect(Self.primaryKeepsTheRole(stretch: 4, silence: 900), "a primary stretched 4x stepped down within 900 ms")
        #expect(!Self.primaryKeepsTheRole(stretch: 4, silence: 3_000), "a stretched primary never stepped down")
    }

    @Test func theStretchIsClamped() {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness["a"].timeoutStretch = 0.2
        #expect(harness["a"].timeoutStretch == 1)
        harness["a"].timeoutStretch = 100
        #expect(harness["a"].timeoutStretch == ReplicationSettings.lan.maxTimeoutStretch)
    }
}
