import Gossip
import Shard

/// The real placement and lifecycle policy in the simulation: every running process holds a
/// `SessionDirectory`, fed as the node's shell feeds it (views from its gossip core, the copy's
/// status after every call into its replica, removal notices, its own timer), and its directives
/// are carried out here: `campaign` → `primaryLost`, `addReplica` / `removeReplica` → the
/// primary's `addMember` / `removeMember` (plus a removal notice to the removed node), `retire` →
/// the copy stops taking part until a later append re-adopts it. With `Options.useDirectory` off,
/// the old ad-hoc rules run instead (gossip verdicts call `primaryLost` directly, the client tops
/// the set up after healing).
///
/// Checked here: the served session is always the simulation's; a lookup on a node that holds
/// nothing, answered by every reachable node that holds nothing, is never "certainly none" while
/// the session is live; and from `replicaCountBound` after healing the primary's set has
/// `initialMembers` voting members again.
extension ReplicationSimulation {
    static let group = "g"

    /// `fastSettings`' scale: maintenance every 20 ms, a 30 ms settle linger, dead holders count
    /// for 200 ms; no ingest in the simulation, so the ingest grace never ends the session.
    static func directorySettings(replicas: Int) -> DirectorySettings {
        var settings = DirectorySettings()
        settings.replicas = replicas
        settings.maintenanceInterval = .milliseconds(20)
        settings.settleLinger = .milliseconds(30)
        settings.deadHolderGrace = .milliseconds(200)
        settings.learnerStall = .milliseconds(200)
        // A push-pull round of `fastGossipSettings`, as the node's 3 s is a few of its rounds.
        settings.joinSettle = .milliseconds(150)
        settings.ingestGrace = .milliseconds(3_600_000)
        return settings
    }

    /// How the directory treats a process that starts (or restarts).
    enum DirectoryOrigin {
        case started
        case adopted
        case restored
        /// Holds no copy (a spare, or a copy marked removed on disk): adopted at its first append.
        case none
    }

    var directorySettings: DirectorySettings {
        var settings = options.directory
        settings.replicas = options.initialMembers
        return settings
    }

    /// A process starts its directory, sees its gossip view, and holds the copy as `origin` says.
    func startDirectory(_ i: Int, origin: DirectoryOrigin) {
        guard options.useDirectory else { return }
        nodes[i].directory = SessionDirectory(me: nodes[i].id, settings: directorySettings, now: now)
        nodes[i].deadSince = [:]
        nodes[i].directoryRings = nil
        nodes[i].directoryTimerAt = nil
        nodes[i].joinedAt = nil
        directoryViewChanged(i)
        switch origin {
        case .started:
            nodes[i].holdsCopyOnDisk = true
            let copy = directoryCopy(i)
            feedDirectory(i) { $0.started(copy, now: $1) }
        case .adopted:
            nodes[i].holdsCopyOnDisk = true
            let copy = directoryCopy(i)
            feedDirectory(i) { $0.adopted(copy, now: $1) }
        case .restored:
            let copy = directoryCopy(i)
            feedDirectory(i) { $0.restored(copy, now: $1) }
        case .none:
            break
        }
    }

    /// Whether node i's directory holds a copy (a record) of the session: it takes part.
    func holdsCopy(_ i: Int) -> Bool {
        nodes[i].directory?.copy(session) != nil
    }

    /// The copy as the shell reports it (`SessionHost.copy`): the session is always live here.
    func directoryCopy(_ i: Int) -> DirectoryCopy {
        let r = nodes[i].replica!
        if let primary = r.primary { nodes[i].lastKnownPrimary = primary }
        return DirectoryCopy(
            group: Self.group,
            session: session,
            phase: .live,
            role: r.role,
            epoch: r.epoch,
            primary: r.primary ?? nodes[i].lastKnownPrimary,
            members: r.members,
            learners: r.learners,
            lag: r.lag,
            stalledLearners: r.stalledLearners(now: now, stall: directorySettings.learnerStall),
            lastSeq: r.lastSeq,
            commitSeq: r.commitSeq
        )
    }

    /// After a call into node i's replica: its new status, when it changed (and the confirmation
    /// of a restored copy: it heard a commit or became primary).
    func reportCopy(_ i: Int, directives: [ReplicationDirective]) {
        guard options.useDirectory, nodes[i].replica != nil, let dir = nodes[i].directory,
            let known = dir.copy(session)
        else { return }
        let confirmed = directives.contains { directive in
            switch directive {
            case .committed, .becamePrimary: true
            default: false
            }
        }
        let copy = directoryCopy(i)
        guard confirmed || copy != known else { return }
        feedDirectory(i) { $0.update(copy, confirmed: confirmed, now: $1) }
    }

    /// Node i's gossip view changed: the directory sees it (rings over alive+suspect and over
    /// every member not left, dead ones with the time this node first saw them dead).
    func directoryViewChanged(_ i: Int) {
        guard options.useDirectory, nodes[i].directory != nil, let gossip = nodes[i].gossip else { return }
        var members: [String: DirectoryView.MemberState] = [:]
        var deadSince: [String: ReplicationTime] = [:]
        for member in gossip.members {
            let id = member.id.rawValue
            switch member.status {
            case .alive: members[id] = .alive
            case .suspect: members[id] = .suspect
            case .dead:
                members[id] = .dead
                deadSince[id] = nodes[i].deadSince[id] ?? now
            case .left: members[id] = .left
            }
        }
        nodes[i].deadSince = deadSince
        let placed = members.filter { $0.value == .alive || $0.value == .suspect }.keys.sorted()
        let holders = members.filter { $0.value != .left }.keys.sorted()
        // Rings are rebuilt only when their node sets change, as `ClusterView` does.
        var rings = nodes[i].directoryRings
        if rings?.placed != placed || rings?.holders != holders {
            rings = (
                placed,
                placed == rings?.placed ? rings!.ring : try! HashRing(nodes: placed.map { ShardNode(id: $0) }),
                holders,
                holders == rings?.holders ? rings!.holderRing : try! HashRing(nodes: holders.map { ShardNode(id: $0) })
            )
            nodes[i].directoryRings = rings
        }
        // Joined once another member is alive in its view (`GossipShell` marks the node joined
        // just so); a mutant may lie.
        let joined = options.mutantAlwaysJoined || members.contains { $0.key != nodes[i].id && $0.value == .alive }
        if joined, nodes[i].joinedAt == nil { nodes[i].joinedAt = now }
        let view = DirectoryView(
            selfID: nodes[i].id,
            members: members,
            ring: rings!.ring,
            holderRing: rings!.holderRing,
            deadSince: deadSince,
            joined: joined,
            joinedAt: options.mutantAlwaysJoined ? nil : nodes[i].joinedAt
        )
        feedDirectory(i) { $0.viewChanged(view, now: $1) }
    }

    /// One call into node i's directory, and its directives carried out in order.
    func feedDirectory(_ i: Int, _ call: (inout SessionDirectory, ReplicationTime) -> [DirectoryDirective]) {
        guard nodes[i].directory != nil else { return }
        let out = call(&nodes[i].directory!, now)
        for directive in out {
            guard checker.violations.isEmpty, nodes[i].directory != nil else { return }
            executeDirectory(directive, at: i)
        }
    }

    private func executeDirectory(_ directive: DirectoryDirective, at i: Int) {
        switch directive {
        case .addReplica(_, let node):
            guard nodes[i].replica?.role == .primary else { return }
            if case .success(let directives) = nodes[i].replica!.addMember(node, now: now) {
                stats.directoryAdds += 1
                log("n\(i) directory adds \(node)")
                trace.record(20, UInt64(i), UInt64(index(of: node) ?? 99))
                execute(directives, at: i)
            }
        case .removeReplica(_, let node, let reason):
            guard nodes[i].replica?.role == .primary else { return }
            let epoch = nodes[i].replica!.epoch
            if case .success(let directives) = nodes[i].replica!.removeMember(node, now: now) {
                stats.directoryRemovals += 1
                log("n\(i) directory removes \(node) (\(reason.rawValue)) in epoch \(epoch)")
                trace.record(21, UInt64(i), UInt64(index(of: node) ?? 99))
                execute(directives, at: i)
            }
        case .campaign:
            campaign(i)
        case .serve(let group, let served):
            if group != Self.group || served != session {
                checker.fail("n\(i) serves session \(served) of group \(group), not \(session) of \(Self.group)")
            }
            if let dir = nodes[i].directory, dir.served.count > 1 {
                checker.fail("n\(i) serves \(dir.served.count) groups: \(dir.served)")
            }
            stats.serves += 1
        case .unserve:
            break
        case .settle, .wake:
            // The session never ends here: a settle of a live copy is a mistake.
            checker.fail("n\(i) directory issued \(directive) for a live session")
        case .end:
            checker.fail("n\(i) directory ended the session without an ingest grace having run")
        case .retire(_, let epoch):
            stats.retirements += 1
            nodes[i].markedRemoved = true
            log("n\(i) retires its copy (removed at epoch \(epoch))")
            trace.record(22, UInt64(i), epoch)
        case .scheduleTick(let at):
            nodes[i].directoryTimerAt = at
            queue.push(.directoryTick(node: i, generation: nodes[i].generation), at: max(at, now))
        }
    }

    /// The directory's `campaign`: the replica stops waiting for its timeout (what gossip's verdict
    /// on the primary used to do directly).
    private func campaign(_ i: Int) {
        guard let replica = nodes[i].replica, replica.role != .primary else { return }
        stats.primaryLostCalls += 1
        if let primary = nodes[i].directory?.copy(session)?.primary, let p = index(of: primary) {
            if nodes[p].alive && connected(i, p) {
                stats.falseSuspicions += 1
                if healTime != nil { stats.falseSuspicionsHealed += 1 }
            } else if let killedAt = nodes[p].killedAt, !nodes[p].alive, nodes[i].detectedKill != killedAt {
                // One sample per follower and kill: the directory campaigns again at every later
                // view change while the primary stays lost.
                nodes[i].detectedKill = killedAt
                stats.recordDetection(now - killedAt)
            }
            trace.record(2, UInt64(i), UInt64(p))
        }
        log("n\(i): directory campaigns")
        execute(nodes[i].replica!.primaryLost(now: now), at: i)
    }

    /// The removed node hears of its removal after a network delay (or never: loss, partition).
    func sendRemovalNotice(from i: Int, to node: String, epoch: UInt64) {
        guard options.useDirectory, let j = index(of: node) else { return }
        for _ in 0..<copies(from: i, to: j) {
            queue.push(
                .removalNotice(to: j, epoch: epoch, generation: nodes[j].generation),
                at: now + linkDelay(from: i, to: j)
            )
        }
    }

    func deliverRemovalNotice(to j: Int, epoch: UInt64, generation: UInt64) {
        guard nodes[j].generation == generation, nodes[j].directory != nil else { return }
        feedDirectory(j) { directory, _ in directory.removalNotice(session: session, epoch: epoch) }
    }

    /// The directory's timer: primaries' statuses are refreshed first (lag and stalls move without
    /// a report), then it ticks. A timer replaced by a later one is void.
    func directoryTick(_ i: Int, generation: UInt64) {
        guard nodes[i].generation == generation, nodes[i].directory != nil, let at = nodes[i].directoryTimerAt,
            at <= now
        else { return }
        nodes[i].directoryTimerAt = nil
        if nodes[i].replica?.role == .primary { reportCopy(i, directives: []) }
        feedDirectory(i) { $0.tick(now: $1) }
    }

    /// A replication message for a node that holds no copy: the shell adopts the session on an
    /// append (resuming from the log it kept), and drops anything else. True when delivered.
    func deliverWithoutCopy(_ message: ReplicationMessage, to j: Int) -> Bool {
        guard case .append = message.kind else { return false }
        let directives = nodes[j].replica!.receive(message, from: message.sender, now: now)
        stats.adoptions += 1
        nodes[j].markedRemoved = false
        nodes[j].holdsCopyOnDisk = true
        log("n\(j) adopts the session")
        let copy = directoryCopy(j)
        feedDirectory(j) { $0.adopted(copy, now: $1) }
        execute(directives, at: j)
        return true
    }

    // MARK: Checks

    /// Every 10 ms: lookup certainty on every node that holds nothing, and, from `replicaCountBound`
    /// after healing, a full replica set.
    func directoryCheck() {
        guard options.useDirectory, checker.violations.isEmpty else { return }
        for i in nodes.indices {
            guard let dir = nodes[i].directory, !holdsCopy(i), dir.servedCopy(group: Self.group) == nil else {
                continue
            }
            var answered: Set<String> = [nodes[i].id]
            for j in nodes.indices where j != i && nodes[j].directory != nil && connected(i, j) && !holdsCopy(j) {
                answered.insert(nodes[j].id)
            }
            let verdict = SessionDirectory.verdict(
                group: Self.group,
                answered: answered,
                view: dir.view,
                settings: directorySettings,
                now: now
            )
            if verdict == .certainlyNone {
                let view = dir.view.members.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                checker.fail(
                    "n\(i) would answer 'certainly none' for the live session: answered \(answered.sorted()), view \(view), dead since \(dir.view.deadSince): \(stateSummary)"
                )
                return
            }
        }
        if let healTime, now >= healTime + options.replicaCountBound, let p = currentPrimary() {
            let members = nodes[p].replica!.members
            if members.count != options.initialMembers {
                checker.fail(
                    "n\(p)'s replica set has \(members.count) members \(options.replicaCountBound) after healing, not \(options.initialMembers): \(stateSummary)"
                )
            }
        }
    }
}
