import Shard

/// Kills, restarts, partitions, loss, slow nodes and the operator's actions (transfers, compaction,
/// replica replacement), drawn at random during the chaos window; then healing.
extension ReplicationSimulation {
    /// The process dies: replica, gossip core and unwritten disk buffers are gone. Half the time it
    /// is a crash whose sockets the kernel resets (peers' shells see their connection drop and tell
    /// gossip, which probes at once); otherwise the host vanished and only probes notice.
    func kill(_ i: Int) {
        if i == currentPrimary() { primaryKilledAt = now }
        nodes[i].replica = nil
        nodes[i].gossip = nil
        nodes[i].pendingDisk = []
        // A new process reopens its log: no longer poisoned (its writes may fail again).
        nodes[i].diskPoisoned = false
        nodes[i].diskRound += 1
        nodes[i].generation += 1
        nodes[i].killedAt = now
        nodes[i].directory = nil
        nodes[i].directoryTimerAt = nil
        checker.killed(node: i)
        workload?.killed(node: i)
        stats.kills += 1
        trace.record(8, UInt64(i))
        guard random.nextUnit() < 0.5 else { return }
        for j in nodes.indices where j != i && nodes[j].gossip != nil && connected(i, j) {
            queue.push(
                .gossipConnectionLost(peer: i, node: j, generation: nodes[j].generation),
                at: now + linkDelay(from: i, to: j)
            )
        }
    }

    /// A new process on the same disk: the replica restores what was durable, and gossip starts a
    /// fresh instance of a higher generation.
    func restart(_ i: Int) {
        var replica = SessionReplica(
            session: session,
            me: nodes[i].id,
            members: initialMembers,
            settings: options.settings,
            random: random.next(),
            now: now
        )
        let disk = nodes[i].disk
        replica.restore(
            from: .init(epoch: disk.epoch, votedFor: disk.votedFor, snapshot: disk.snapshot),
            log: disk.log,
            now: now
        )
        nodes[i].replica = replica
        nodes[i].diskFreeAt = now
        nodes[i].killedAt = nil
        touched |= 1 << UInt64(i)
        startGossip(i)
        // A copy on disk not marked removed is loaded; otherwise the node holds nothing.
        startDirectory(i, origin: nodes[i].holdsCopyOnDisk && !nodes[i].markedRemoved ? .restored : .none)
        checker.restarted(node: i, disk: disk, commitSeq: replica.commitSeq)
        workload?.restarted(node: i)
        stats.restarts += 1
        trace.record(9, UInt64(i))
    }

    func heal() {
        healTime = now
        partition = nil
        loss = 0
        duplication = 0
        slowNode = nil
        for node in nodes { node.diskFailingUntil = nil }
        for i in nodes.indices where !nodes[i].alive { restart(i) }
        trace.record(3)
    }

    func injectFault() {
        faultCount += 1
        defer { log("fault \(faultCount): \(stateSummary)") }
        let alive = nodes.indices.filter { nodes[$0].alive }
        let dead = nodes.indices.filter { !nodes[$0].alive }
        // Drawn only when enabled, so the other runs replay exactly as before.
        if options.diskFailures, random.nextUnit() < 0.2, !alive.isEmpty {
            failDisk(alive[Int(random.next() % UInt64(alive.count))])
            return
        }
        let pick = random.next() % 100
        switch pick {
        case 0..<14:
            // Kill a node, preferring the primary half of the time; at most two down at once (a
            // power loss aside).
            guard dead.count < 2, !alive.isEmpty else { return }
            if random.nextUnit() < 0.5, let p = currentPrimary() {
                kill(p)
            } else {
                kill(alive[Int(random.next() % UInt64(alive.count))])
            }
        case 14..<30:
            guard !dead.isEmpty else { return }
            restart(dead[Int(random.next() % UInt64(dead.count))])
        case 30..<42:
            partition = nodes.indices.map { _ in Int(random.next() % 2) }
            stats.partitions += 1
            trace.record(10, UInt64(partition!.reduce(0) { $0 * 2 + $1 }))
        case 42..<52:
            partition = nil
            slowNode = nil
        case 52..<62:
            loss = random.nextUnit() * 0.3
            duplication = random.nextUnit() * 0.1
        case 62..<68:
            // A slow node (overload, pause, bad link): up and connected, but its messages take up
            // to 5–30 ms longer, past the 3 ms probe timeout and often the 10 ms probe interval,
            // so gossip suspects it falsely. When it is the primary, the followers depose it.
            guard !alive.isEmpty else { return }
            slowNode = alive[Int(random.next() % UInt64(alive.count))]
            slowExtra = 5_000_000 + random.next() % 25_000_000
            stats.slowdowns += 1
            trace.record(18, UInt64(slowNode!), slowExtra)
        case 68..<76:
            guard let p = currentPrimary() else { return }
            let others = nodes[p].replica!.members.filter { $0 != nodes[p].id }
            guard !others.isEmpty else { return }
            let target = others[Int(random.next() % UInt64(others.count))]
            if case .success(let directives) = nodes[p].replica!.transferPrimary(to: target, now: now) {
                stats.transfers += 1
                trace.record(11, UInt64(p))
                execute(directives, at: p)
            }
        case 76..<86:
            guard options.compaction, !alive.isEmpty else { return }
            compact(alive[Int(random.next() % UInt64(alive.count))])
        case 86..<89:
            // A power loss: every machine dies at the same instant, with whatever was not yet on
            // disk. The one fault under which an entry acknowledged before its fsync (by a replica,
            // or counted by the primary for itself) is gone from every node that could be elected.
            guard !alive.isEmpty else { return }
            stats.powerLosses += 1
            trace.record(19)
            for i in alive { kill(i) }
            // The next election waits for restarts: not a failover to measure.
            primaryKilledAt = nil
        default:
            // Replica replacement: drop a (preferably dead) replica, or add the spare back.
            guard let p = currentPrimary() else { return }
            let replica = nodes[p].replica!
            if replica.members.count >= options.initialMembers {
                let candidates = replica.members.filter { $0 != replica.me }
                let deadOnes = candidates.filter { id in !nodes[index(of: id)!].alive }
                let pool = deadOnes.isEmpty ? candidates : deadOnes
                guard !pool.isEmpty else { return }
                let victim = pool[Int(random.next() % UInt64(pool.count))]
                if case .success(let directives) = nodes[p].replica!.removeMember(victim, now: now) {
                    stats.removals += 1
                    trace.record(12, UInt64(p))
                    execute(directives, at: p)
                }
            } else if let spare = nodes.indices.first(where: {
                !replica.members.contains(nodes[$0].id) && nodes[$0].alive
            }) {
                if case .success(let directives) = nodes[p].replica!.addMember(nodes[spare].id, now: now) {
                    stats.additions += 1
                    trace.record(13, UInt64(p))
                    execute(directives, at: p)
                }
            }
        }
    }
}
