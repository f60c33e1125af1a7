import Shard

/// A deterministic simulation of one session's replica set: virtual clock, in-memory network
/// (delay, jitter, reordering, loss, duplication, partitions), per-node disks with fsync latency,
/// kills and restarts that keep only what was durable, gossip that reports a lost primary, and a
/// client writing to whoever it believes is primary.
///
/// One `ReplicationRandom` drives everything and nothing iterates a hashed collection, so a seed
/// replays exactly. The invariants are checked by `ReplicationSimChecker` as every directive is
/// executed, i.e. after every step; the first violation stops the run.
final class ReplicationSimulation {
    struct Options {
        var nodeCount = 4
        var initialMembers = 3
        /// Faults happen in [0, chaos); then everything heals and the run continues for `heal`.
        var chaos: ReplicationDuration = .milliseconds(300)
        var heal: ReplicationDuration = .milliseconds(450)
        /// The client stops writing this long before the end, so replicas can catch up.
        var quiet: ReplicationDuration = .milliseconds(120)
        var tickInterval: ReplicationDuration = .milliseconds(5)
        var writeInterval: ReplicationDuration = .milliseconds(6)
        var faults = true
        var settings = ReplicationSimulation.fastSettings
    }

    /// LAN settings scaled down ~6x so a few hundred ms of virtual chaos holds several elections.
    static var fastSettings: ReplicationSettings {
        var settings = ReplicationSettings()
        settings.heartbeatInterval = .milliseconds(10)
        settings.electionTimeoutMin = .milliseconds(50)
        settings.electionTimeoutMax = .milliseconds(100)
        settings.primaryLostJitter = .milliseconds(5)
        settings.transferTimeout = .milliseconds(100)
        settings.maxEntriesPerAppend = 16
        settings.catchUpMaxLag = 8
        settings.snapshotHintEntries = 24
        return settings
    }

    enum Event {
        case deliver(ReplicationMessage, to: Int)
        case diskDone(node: Int, generation: UInt64)
        case tick
        case clientWrite
        case fault
        case gossip(node: Int, generation: UInt64)
        case heal
    }

    struct DiskOp {
        var entries: [ReplicationEntry] = []
        var truncateAfter: UInt64?
        var snapshot: ReplicationSnapshot?
        var lastSeq: UInt64
    }

    struct Disk {
        var epoch: UInt64 = 0
        var votedFor: String?
        var snapshot: ReplicationSnapshot?
        var log: [ReplicationEntry] = []
    }

    struct Node {
        let id: String
        var replica: SessionReplica?
        var generation: UInt64 = 0
        var disk = Disk()
        var pendingDisk: [DiskOp] = []
        var diskFreeAt: ReplicationTime = .zero
        var alive: Bool { replica != nil }
    }

    let seed: UInt64
    let options: Options
    let session = "s"
    private(set) var now: ReplicationTime = .zero
    private(set) var nodes: [Node] = []
    private var random: ReplicationRandom
    private var queue = ReplicationEventQueue<Event>()
    private(set) var checker: ReplicationSimChecker
    private(set) var trace = ReplicationTraceHash()

    // Network state.
    private var loss = 0.0
    private var duplication = 0.0
    private var partition: [Int]?

    // Client state.
    private var believedPrimary: Int?
    private var nextWriteID: UInt64 = 1
    private(set) var healTime: ReplicationTime?
    /// Time from healing to the first commit of a write proposed after healing.
    private(set) var recoveryTime: ReplicationDuration?
    private(set) var faultCount = 0
    /// What happened in the run, to show the fault mix really exercises the protocol.
    private(set) var stats = Stats()

    struct Stats {
        var delivered = 0, elections = 0, stepDowns = 0, truncations = 0, snapshotsInstalled = 0
        var compactions = 0, kills = 0, restarts = 0, partitions = 0, transfers = 0, removals = 0
        var additions = 0, falseSuspicions = 0, acknowledged = 0

        static func + (a: Stats, b: Stats) -> Stats {
            Stats(
                delivered: a.delivered + b.delivered,
                elections: a.elections + b.elections,
                stepDowns: a.stepDowns + b.stepDowns,
                truncations: a.truncations + b.truncations,
                snapshotsInstalled: a.snapshotsInstalled + b.snapshotsInstalled,
                compactions: a.compactions + b.compactions,
                kills: a.kills + b.kills,
                restarts: a.restarts + b.restarts,
                partitions: a.partitions + b.partitions,
                transfers: a.transfers + b.transfers,
                removals: a.removals + b.removals,
                additions: a.additions + b.additions,
                falseSuspicions: a.falseSuspicions + b.falseSuspicions,
                acknowledged: a.acknowledged + b.acknowledged
            )
        }
    }

    var initialMembers: [String] { (0..<options.initialMembers).map { "n\($0)" } }
    var endTime: ReplicationTime { .zero + options.chaos + options.heal }

    init(seed: UInt64, options: Options = Options()) {
        self.seed = seed
        self.options = options
        self.random = ReplicationRandom(seed: seed)
        self.checker = ReplicationSimChecker(nodeCount: options.nodeCount, seed: seed)
        for i in 0..<options.nodeCount { nodes.append(Node(id: "n\(i)")) }
        // All nodes run from the start; n0 bootstraps the session, the spares follow nobody yet.
        for i in 1..<options.nodeCount {
            nodes[i].replica = SessionReplica(
                session: session,
                me: nodes[i].id,
                members: initialMembers,
                settings: options.settings,
                random: random.next(),
                now: now
            )
        }
        let (primary, directives) = SessionReplica.bootstrapPrimary(
            session: session,
            me: "n0",
            members: initialMembers,
            settings: options.settings,
            random: random.next(),
            now: now
        )
        nodes[0].replica = primary
        believedPrimary = 0
        execute(directives, at: 0)
        queue.push(.tick, at: now + options.tickInterval)
        queue.push(.clientWrite, at: now + options.writeInterval)
        if options.faults { queue.push(.fault, at: now + .milliseconds(10)) }
        queue.push(.heal, at: .zero + options.chaos)
    }

    /// Runs to the end and performs the final checks; returns the violations (empty when fine).
    func run() -> [String] {
        while checker.violations.isEmpty, let (time, event) = queue.pop(), time <= endTime {
            now = time
            step(event)
        }
        if checker.violations.isEmpty { finalCheck() }
        stats.acknowledged = checker.acknowledged.count
        return checker.violations
    }

    // MARK: Events

    private func step(_ event: Event) {
        switch event {
        case .deliver(let message, let to):
            guard nodes[to].alive else { return }
            stats.delivered += 1
            trace.record(1, UInt64(to), message.epoch, message.kind.traceTag)
            let directives = nodes[to].replica!.receive(message, from: message.sender, now: now)
            execute(directives, at: to)
        case .diskDone(let i, let generation):
            guard nodes[i].alive, nodes[i].generation == generation, !nodes[i].pendingDisk.isEmpty else { return }
            let op = nodes[i].pendingDisk.removeFirst()
            applyToDisk(op, node: i)
            execute(nodes[i].replica!.localDurable(upTo: op.lastSeq, now: now), at: i)
        case .tick:
            for i in nodes.indices where nodes[i].alive { execute(nodes[i].replica!.tick(now: now), at: i) }
            queue.push(.tick, at: now + options.tickInterval)
        case .clientWrite:
            clientWrite()
            if now + options.writeInterval + options.quiet < endTime {
                queue.push(.clientWrite, at: now + options.writeInterval)
            }
        case .fault:
            injectFault()
            let gap = ReplicationDuration(nanoseconds: 5_000_000 + random.next() % 25_000_000)
            if now + gap < .zero + options.chaos { queue.push(.fault, at: now + gap) }
        case .gossip(let i, let generation):
            guard nodes[i].alive, nodes[i].generation == generation, let primaryID = nodes[i].replica!.primary,
                let p = index(of: primaryID), p != i, !nodes[p].alive || !connected(i, p)
            else { return }
            trace.record(2, UInt64(i))
            execute(nodes[i].replica!.primaryLost(now: now), at: i)
        case .heal:
            heal()
        }
        checker.checkNode(i: nil, nodes: nodes)
    }

    private func heal() {
        healTime = now
        partition = nil
        loss = 0
        duplication = 0
        for i in nodes.indices where !nodes[i].alive { restart(i) }
        trace.record(3)
    }

    // MARK: Directives

    private func execute(_ directives: [ReplicationDirective], at i: Int) {
        for directive in directives {
            guard checker.violations.isEmpty else { return }
            switch directive {
            case .send(let message, let to):
                send(message, from: i, to: to)
            case .persist(let entries, let truncateAfter):
                if truncateAfter != nil { stats.truncations += 1 }
                checker.persisted(entries, truncateAfter: truncateAfter, node: i, nodeID: nodes[i].id)
                let last = entries.last?.seq ?? truncateAfter!
                enqueueDisk(DiskOp(entries: entries, truncateAfter: truncateAfter, lastSeq: last), node: i)
            case .persistVote(let epoch, let votedFor):
                // The shell makes the vote durable before executing the sends that follow it.
                nodes[i].disk.epoch = epoch
                nodes[i].disk.votedFor = votedFor
            case .installSnapshot(let snapshot):
                stats.snapshotsInstalled += 1
                checker.installed(snapshot, node: i)
                enqueueDisk(DiskOp(snapshot: snapshot, lastSeq: snapshot.seq), node: i)
            case .needSnapshot:
                compact(i)
            case .committed(let upTo):
                checker.committed(upTo: upTo, node: i, now: now, healTime: healTime)
                if let healTime, recoveryTime == nil, let first = checker.firstWriteAfterHeal,
                    checker.maxAcknowledgedID >= first
                {
                    recoveryTime = now - healTime
                }
            case .becamePrimary(let epoch):
                log("n\(i) became primary of epoch \(epoch)")
                stats.elections += 1
                trace.record(4, UInt64(i), epoch)
                checker.becamePrimary(epoch: epoch, node: i)
            case .steppedDown:
                log("n\(i) stepped down: \(stateSummary)")
                stats.stepDowns += 1
                trace.record(5, UInt64(i))
            }
        }
    }

    private func enqueueDisk(_ op: DiskOp, node i: Int) {
        nodes[i].pendingDisk.append(op)
        // fsync latency: usually 0.1–1.5 ms, sometimes a 10 ms stall.
        var latency = 100_000 + random.next() % 1_400_000
        if random.nextUnit() < 0.03 { latency += 10_000_000 }
        let done = max(now, nodes[i].diskFreeAt) + ReplicationDuration(nanoseconds: latency)
        nodes[i].diskFreeAt = done
        queue.push(.diskDone(node: i, generation: nodes[i].generation), at: done)
    }

    private func applyToDisk(_ op: DiskOp, node i: Int) {
        if let snapshot = op.snapshot {
            nodes[i].disk.snapshot = snapshot
            nodes[i].disk.log = []
            return
        }
        if let truncateAfter = op.truncateAfter { nodes[i].disk.log.removeAll { $0.seq > truncateAfter } }
        let base = nodes[i].disk.snapshot?.seq ?? 0
        for entry in op.entries where entry.seq > base {
            let expected = (nodes[i].disk.log.last?.seq ?? base) + 1
            if entry.seq != expected {
                checker.fail("seed \(seed): n\(i) disk gap: entry \(entry.seq), expected \(expected)")
                return
            }
            nodes[i].disk.log.append(entry)
        }
    }

    /// The shell takes a snapshot of its committed state and lets the core drop the log below it.
    private func compact(_ i: Int) {
        guard let replica = nodes[i].replica, replica.commitSeq > (replica.snapshot?.seq ?? 0) else { return }
        let seq = replica.commitSeq
        let data = SimSnapshotCodec.encode(checker.mirrors[i][0..<Int(seq)])
        nodes[i].replica!.compact(upTo: seq, snapshot: data)
        nodes[i].disk.snapshot = nodes[i].replica!.snapshot
        nodes[i].disk.log.removeAll { $0.seq <= seq }
        stats.compactions += 1
        trace.record(6, UInt64(i), seq)
    }

    // MARK: Network

    private func index(of id: String) -> Int? {
        guard id.first == "n", let i = Int(id.dropFirst()), i < nodes.count else { return nil }
        return i
    }

    private func connected(_ a: Int, _ b: Int) -> Bool {
        guard let partition else { return true }
        return partition[a] == partition[b]
    }

    private func send(_ message: ReplicationMessage, from i: Int, to id: String) {
        guard let j = index(of: id), connected(i, j) else { return }
        if random.nextUnit() < loss { return }
        queue.push(.deliver(message, to: j), at: now + linkDelay())
        if random.nextUnit() < duplication { queue.push(.deliver(message, to: j), at: now + linkDelay()) }
    }

    /// 0.25–0.75 ms, and 5% of messages 0–8 ms late (which reorders them).
    private func linkDelay() -> ReplicationDuration {
        var delay = 250_000 + random.next() % 500_000
        if random.nextUnit() < 0.05 { delay += random.next() % 8_000_000 }
        return ReplicationDuration(nanoseconds: delay)
    }

    // MARK: Client

    /// Set `REPL_TRACE=1` (with `REPL_SEED`) to print every client attempt and role change.
    private let verbose = ReplicationSeeds.verbose

    private func log(_ line: @autoclosure () -> String) {
        if verbose { print("[\(now)] \(line())") }
    }

    private func clientWrite() {
        let alive = nodes.indices.filter { nodes[$0].alive }
        guard !alive.isEmpty else { return }
        var target = believedPrimary ?? alive[Int(random.next() % UInt64(alive.count))]
        if !nodes[target].alive { target = alive[Int(random.next() % UInt64(alive.count))] }
        let id = nextWriteID
        let outcome = nodes[target].replica!.propose(SimSnapshotCodec.payload(id), now: now)
        log("client write \(id) to n\(target): \(outcome.map { $0.seq })")
        switch outcome {
        case .success(let (seq, directives)):
            nextWriteID += 1
            believedPrimary = target
            checker.proposed(id: id, seq: seq, node: target, afterHeal: healTime != nil)
            trace.record(7, UInt64(target), seq)
            execute(directives, at: target)
        case .failure(.notPrimary(let hint)):
            believedPrimary = hint.flatMap { index(of: $0) }
        case .failure:
            break
        }
        if healTime != nil { ensureFullReplicaSet() }
    }

    /// After healing, the shell brings the replica set back to its size (a replaced replica's
    /// newcomer may have been forgotten when the primary changed).
    private func ensureFullReplicaSet() {
        guard let p = currentPrimary() else { return }
        let replica = nodes[p].replica!
        guard replica.members.count < options.initialMembers, replica.learners.isEmpty else { return }
        guard let spare = nodes.indices.first(where: { !replica.members.contains(nodes[$0].id) }) else { return }
        if case .success(let directives) = nodes[p].replica!.addMember(nodes[spare].id, now: now) {
            execute(directives, at: p)
        }
    }

    private func currentPrimary() -> Int? {
        var best: Int?
        for i in nodes.indices where nodes[i].replica?.role == .primary {
            if best == nil || nodes[i].replica!.epoch > nodes[best!].replica!.epoch { best = i }
        }
        return best
    }

    // MARK: Faults

    private func kill(_ i: Int) {
        nodes[i].replica = nil
        nodes[i].pendingDisk = []
        nodes[i].generation += 1
        checker.killed(node: i)
        stats.kills += 1
        trace.record(8, UInt64(i))
        // Gossip notices the death a little later on every other node.
        for j in nodes.indices where j != i && nodes[j].alive {
            let delay = ReplicationDuration(nanoseconds: 10_000_000 + random.next() % 20_000_000)
            queue.push(.gossip(node: j, generation: nodes[j].generation), at: now + delay)
        }
    }

    private func restart(_ i: Int) {
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
        checker.restarted(node: i, disk: disk, commitSeq: replica.commitSeq)
        stats.restarts += 1
        trace.record(9, UInt64(i))
    }

    private func injectFault() {
        faultCount += 1
        defer { log("fault \(faultCount): \(stateSummary)") }
        let alive = nodes.indices.filter { nodes[$0].alive }
        let dead = nodes.indices.filter { !nodes[$0].alive }
        let pick = random.next() % 100
        switch pick {
        case 0..<14:
            // Kill a node, preferring the primary half of the time; at most two down at once.
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
            for j in nodes.indices where nodes[j].alive {
                let delay = ReplicationDuration(nanoseconds: 10_000_000 + random.next() % 20_000_000)
                queue.push(.gossip(node: j, generation: nodes[j].generation), at: now + delay)
            }
        case 42..<52:
            partition = nil
        case 52..<62:
            loss = random.nextUnit() * 0.3
            duplication = random.nextUnit() * 0.1
        case 62..<68:
            // A false suspicion from gossip.
            guard !alive.isEmpty else { return }
            let i = alive[Int(random.next() % UInt64(alive.count))]
            stats.falseSuspicions += 1
            execute(nodes[i].replica!.primaryLost(now: now), at: i)
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
            guard !alive.isEmpty else { return }
            compact(alive[Int(random.next() % UInt64(alive.count))])
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

    // MARK: End of run

    /// One line per node, for failure messages.
    var stateSummary: String {
        nodes.map { node in
            guard let r = node.replica else { return "\(node.id): down" }
            return
                "\(node.id): \(r.role) e\(r.epoch) voted \(r.votedFor ?? "-") primary \(r.primary ?? "-") last \(r.lastSeq)@\(r.lastEpoch) commit \(r.commitSeq) durable \(r.durableSeq) members \(r.members) learners \(r.learners)"
        }.joined(separator: "; ")
    }

    private func finalCheck() {
        guard let p = currentPrimary() else {
            checker.fail(
                "seed \(seed): no primary at the end (healed at \(healTime.map { "\($0)" } ?? "-")): \(stateSummary)"
            )
            return
        }
        guard recoveryTime != nil else {
            checker.fail("seed \(seed): no write proposed after healing was committed: \(stateSummary)")
            return
        }
        let members = nodes[p].replica!.members
        for id in members {
            let i = index(of: id)!
            guard let replica = nodes[i].replica else {
                checker.fail("seed \(seed): member \(id) not running at the end")
                return
            }
            checker.finalCheck(node: i, replica: replica, seed: seed)
        }
    }
}
