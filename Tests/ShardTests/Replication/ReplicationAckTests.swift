import Shard
import Testing

/// How often a replica answers appends: once per write when it is on disk, not for every append
/// (a write used to cost five link messages per replica; three carry information).
@Suite struct ReplicationAckTests {
    /// The acks `id` sent in `directives`, as (success, matchSeq).
    static func acks(_ directives: [ReplicationDirective]) -> [(success: Bool, match: UInt64)] {
        directives.compactMap {
            guard case .send(let message, _) = $0, case .appendAck(let success, let match, _) = message.kind else {
                return nil
            }
            return (success, match)
        }
    }

    static func isEmptyAppend(_ message: ReplicationMessage) -> Bool {
        if case .append(_, _, let entries, _) = message.kind { return entries.isEmpty }
        return false
    }

    @Test func aWriteCostsOneAckPerReplicaWhenItIsOnDisk() {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        harness.autoDurable = false
        harness.flushDisk("a")
        harness.history = [:]
        harness.now = harness.now + .milliseconds(100)
        let seq = harness.propose("a", 1)!
        harness.flushDisk("a")
        // b gets the entry: nothing to say until it is on disk.
        let toB = harness.inbox.filter { $0.to == "b" }
        harness.inbox.removeAll { $0.to == "b" }
        harness.deliver(toB)
        #expect(Self.acks(harness.history["b"] ?? []).isEmpty, "acked before the entry was durable")
        harness.flushDisk("b")
        #expect(Self.acks(harness.history["b"] ?? []).map(\.match) == [seq])
        // Its ack commits (a and b are a majority); the commit notice to b is an empty append that
        // b does not answer: it has just said the same.
        harness.deliver(harness.inbox.filter { $0.to == "a" })
        harness.inbox.removeAll { $0.to == "a" }
        #expect(harness["a"].commitSeq == seq)
        let notice = harness.inbox.filter { $0.to == "b" }
        #expect(!notice.isEmpty && notice.allSatisfy { Self.isEmptyAppend($0.message) })
        harness.inbox.removeAll { $0.to == "b" }
        harness.deliver(notice)
        #expect(harness["b"].commitSeq == seq)
        #expect(Self.acks(harness.history["b"] ?? []).count == 1, "the commit notice was answered")
    }

    @Test func aQuietReplicaStillAnswersHeartbeats() {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        harness.history = [:]
        // Heartbeats after a quiet spell are answered (the primary's check-quorum counts on it)...
        for _ in 0..<5 {
            harness.tick("a", after: ReplicationSettings.lan.heartbeatInterval)
            harness.deliverAll()
        }
        #expect(Self.acks(harness.history["b"] ?? []).count >= 5)
        #expect(harness["a"].role == .primary)
        // ...and a second empty append in the same instant is not.
        let before = Self.acks(harness.history["b"] ?? []).count
        harness.tick("a", after: ReplicationSettings.lan.heartbeatInterval)
        let heartbeat = harness.inbox.filter { $0.to == "b" }
        harness.inbox = []
        harness.deliver(heartbeat)
        harness.deliver(heartbeat)
        #expect(Self.acks(harness.history["b"] ?? []).count == before + 1)
    }

    @Test func aRetransmissionIsAnswered() {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        harness.history = [:]
        _ = harness.propose("a", 7)
        let append = harness.inbox.filter { $0.to == "b" }
        harness.deliverAll()
        let before = Self.acks(harness.history["b"] ?? []).count
        // The same entries again (the primary backed off after a lost ack): b answers at once.
        harness.deliver(append)
        #expect(Self.acks(harness.history["b"] ?? []).count == before + 1)
    }
}
