import Shard

/// Writes and checks layered on `ReplicationSimulation` in place of its built-in write stream:
/// the shells a real node runs over the replica (what enters each node's log, what commits, who
/// steps down, which process dies) and the clients writing to them.
///
/// The simulation calls it while it executes directives, in directive order, as the node's shell
/// (`SessionHost.execute`) handles them; a workload's own events come back through `fire`.
protocol ReplicationWorkload: AnyObject {
    /// An event the workload scheduled with `ReplicationSimulation.schedule` is due.
    func fire(_ token: UInt64)
    /// Entries entered node i's log (`.persist`), after dropping those past `truncateAfter`.
    func logChanged(node i: Int, entries: [ReplicationEntry], truncateAfter: UInt64?)
    /// Node i's log was replaced by a snapshot.
    func snapshotInstalled(node i: Int)
    /// Node i learned that its log is committed up to `upTo`.
    func committed(node i: Int, upTo: UInt64)
    /// Node i stopped being primary.
    func steppedDown(node i: Int)
    /// Node i's process died.
    func killed(node i: Int)
    /// Node i's process came back with the log its disk held.
    func restarted(node i: Int)
    /// Node i became primary.
    func becamePrimary(node i: Int)
    /// Nothing left to do: once the replica set has settled too, the run ends.
    var quiescent: Bool { get }
}

extension ReplicationWorkload {
    func becamePrimary(node i: Int) {}
    var quiescent: Bool { true }
}

extension ReplicationSimulation {
    /// Runs the workload's event `token` at `time`.
    func schedule(_ token: UInt64, at time: ReplicationTime) {
        queue.push(.workload(token), at: max(time, now))
    }

    /// Proposes a workload's write on node i: `content` behind a fresh write id, so the checker
    /// tracks it as it tracks the built-in stream's (committed once, at the seq proposed, never
    /// lost once acknowledged). `accepted` gets the log seq before the directives run, as
    /// `SessionHost.write` notes what it proposed before executing them.
    func proposeWrite(
        _ content: [UInt8],
        at i: Int,
        accepted: (UInt64) -> Void
    ) -> Result<UInt64, ReplicationError> {
        let id = nextWriteID
        switch nodes[i].replica!.propose(SimSnapshotCodec.payload(id) + content, now: now) {
        case .success(let (seq, directives)):
            nextWriteID += 1
            checker.proposed(id: id, seq: seq, node: i, afterHeal: healTime != nil)
            trace.record(7, UInt64(i), seq)
            accepted(seq)
            execute(directives, at: i)
            return .success(seq)
        case .failure(let error):
            return .failure(error)
        }
    }
}

/// A workload's scheduled actions by token (`ReplicationSimulation.schedule` carries a number):
/// each token fires once. A token carries `layer` in its top byte, so workloads layered on one
/// another (`WebhookChaos` over `RedPacketChaos`) tell theirs apart.
struct WorkloadActions<Action> {
    let layer: UInt64
    private var actions: [Action?] = []

    init(layer: UInt64 = 0) { self.layer = layer }

    func owns(_ token: UInt64) -> Bool { token >> 56 == layer }

    /// Files `action`; its token.
    mutating func add(_ action: Action) -> UInt64 {
        actions.append(action)
        return layer << 56 | UInt64(actions.count - 1)
    }

    /// The action of `token`, once.
    mutating func take(_ token: UInt64) -> Action? {
        let index = Int(token & (1 << 56 - 1))
        defer { actions[index] = nil }
        return actions[index]
    }
}
