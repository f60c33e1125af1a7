import Foundation
import Live
import NIOCore
import Shard

/// The shell of the session directory: feeds it (statuses, views, notices, ticks) and carries out
/// its directives, in the order given, on one executor task. It decides nothing itself.
extension LiveSessions {
    /// Calls into the directory under its lock with the replication clock, and queues what it
    /// directs. Synchronous, so a hook on a session's actor can call it.
    func feed(_ call: (inout SessionDirectory, ReplicationTime) -> [DirectoryDirective]) {
        let now = replicationNow
        let out = directory.withLock { call(&$0, now) }
        guard !out.isEmpty else { return }
        var work: [DirectoryDirective] = []
        for directive in out {
            switch directive {
            // Serve and unserve took effect in the directory's state already; the gauge follows.
            case .serve: metrics.sessions.increment()
            case .unserve: metrics.sessions.decrement()
            case .scheduleTick(let at): armDirectoryTimer(at: at, now: now)
            default: work.append(directive)
            }
        }
        if !work.isEmpty { directives.continuation.yield(.directives(work)) }
    }

    /// What the executor task carries out, in order.
    enum DirectoryWork: Sendable {
        case directives([DirectoryDirective])
        /// The directory's timer fired.
        case tick
    }

    /// The directory's view of the cluster from gossip's snapshot (and the drains heard of).
    func directoryView(_ snapshot: ClusterView.Snapshot) -> DirectoryView {
        var members: [String: DirectoryView.MemberState] = [:]
        for member in snapshot.members { members[member.id.rawValue] = .init(member.status) }
        let now = ContinuousClock.now
        return DirectoryView(
            selfID: nodeID,
            members: members,
            draining: drainingNodeIDs(),
            ring: snapshot.ring,
            holderRing: snapshot.holderRing,
            deadSince: snapshot.deadSince.mapValues { replicationTime(of: $0, now: now) },
            joined: state.isJoined,
            joinedAt: joinedAt()
        )
    }

    /// When this node was first seen joined (nil before): the directory's join-settle period
    /// counts from it.
    private func joinedAt() -> ReplicationTime? {
        guard state.isJoined, !state.isAlone else { return nil }
        return firstJoined.withLock { at in
            if at == nil { at = replicationNow }
            return at
        }
    }

    /// A point of the process's clock on the replication clock (nanoseconds since start).
    func replicationTime(of instant: ContinuousClock.Instant, now: ContinuousClock.Instant) -> ReplicationTime {
        let current = replicationNow
        let ago = max(0, (now - instant).nanoseconds)
        return ReplicationTime(nanoseconds: current.nanoseconds - min(current.nanoseconds, UInt64(ago)))
    }

    /// The draining set changed here (a notice, our own drain): the directory sees it.
    func viewChangedHere() {
        let view = directoryView(self.view.snapshot)
        feed { $0.viewChanged(view, now: $1) }
    }

    private func armDirectoryTimer(at: ReplicationTime, now: ReplicationTime) {
        let delay = at - now
        let task = timerLoop.scheduleTask(in: .nanoseconds(Int64(min(delay.nanoseconds, UInt64(Int64.max))))) {
            [weak self] in
            guard let self else { return }
            // A tick is queued like a directive batch, so it runs after what is already queued.
            self.directives.continuation.yield(.tick)
        }
        directoryTimer.withLock { timer in
            timer?.cancel()
            timer = task
        }
    }

    /// Carries out directive batches in order until shutdown.
    func executeDirectives() async {
        for await work in directives.stream {
            switch work {
            case .directives(let batch):
                for directive in batch { await execute(directive) }
            case .tick:
                await maintenanceRound()
            }
        }
    }

    private func execute(_ directive: DirectoryDirective) async {
        switch directive {
        case .addReplica(let session, _), .removeReplica(let session, _, _):
            await host(session: session)?.changeReplicaSet(directive)
        case .campaign(let session):
            await host(session: session)?.campaign()
        case .serve, .unserve, .scheduleTick:
            return
        case .settle(let session):
            // Settled: nothing can change any more. The copy leaves memory (its files close with
            // it); a summary stays for the operator, the replay is read from disk on demand, and
            // a message for it (a lagging member's election) loads it again (`deliver`).
            guard let host = host(session: session) else { return }
            await host.settle()
            let summary = await host.summary
            settledSummaries.withLock { $0[session] = summary }
            hosts.withLock { hosts in
                if hosts[session] === host { hosts[session] = nil }
            }
        case .wake(let session):
            await host(session: session)?.wake()
            settledSummaries.withLock { $0[session] = nil }
        case .retire(let session, let epoch):
            guard let host = hosts.withLock({ $0.removeValue(forKey: session) }) else { return }
            await host.retire()
            // The log stays on disk, marked removed (a restart does not load it). The notice may
            // be older than this node's place in the set: a re-add resumes from the log, and the
            // consistency check trims what diverged.
            ReplicaStore.markRemoved(in: directory(group: host.group, session: session), epoch: epoch)
            logger.info(
                "removed from the replica set",
                metadata: ["live.group": "\(host.group)", "live.session": "\(session)"]
            )
        case .end(let session):
            guard let host = host(session: session) else { return }
            let info = await host.info
            logger.info("ending session: no ingest within the grace period", metadata: ["live.group": "\(info.group)"])
            _ = try? await host.write(.end, by: LiveActor(user: info.host, role: .owner), now: Self.nowMillis())
        }
    }

    /// The directory's timer fired: the primaries' statuses are refreshed first (their lag and
    /// stalled learners move without a report), then the directory ticks.
    private func maintenanceRound() async {
        let primaries = directory.withLock { dir in
            dir.copies.filter { $0.role == .primary && $0.phase != .starting && !dir.isSettled($0.session) }.map(\.session)
        }
        for session in primaries {
            guard let host = host(session: session) else { continue }
            let copy = await host.copy
            feed { $0.update(copy, now: $1) }
        }
        feed { $0.tick(now: $1) }
    }

    /// The role and lag gauges, about once a second.
    func reportReplicationMetrics() async {
        let copies = directory.withLock { $0.copies.filter { $0.phase != .settled } }
        var worstLag: [String: UInt64] = [:]
        for copy in copies where copy.role == .primary {
            guard let host = host(session: copy.session) else { continue }
            for (node, lag) in await host.copy.lag { worstLag[node] = max(worstLag[node] ?? 0, lag) }
        }
        replicationMetrics.primaries.set(copies.filter { $0.role == .primary }.count)
        replicationMetrics.replicas.set(copies.filter { $0.role != .primary }.count)
        // Replicas no longer led from here report 0, not their last lag forever.
        let reported = lagReported.withLock { reported in
            defer { reported = Set(worstLag.keys) }
            return reported
        }
        for node in reported.subtracting(worstLag.keys) { replicationMetrics.lag(0, replica: node) }
        for (node, lag) in worstLag { replicationMetrics.lag(lag, replica: node) }
        for (node, bytes) in links.queuedBytes() { replicationMetrics.queued(bytes, peer: node) }
    }
}
