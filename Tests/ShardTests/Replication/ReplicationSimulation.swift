import Gossip
import Shard
import SimulationSupport

/// A deterministic simulation of one session's replica set: virtual clock, in-memory network
/// (delay, jitter, reordering, loss, duplication, partitions, slow nodes), per-node disks with
/// fsync latency, kills and restarts that keep only what was durable, and a client writing to
/// whoever it believes is primary.
///
/// Failure detection is the real SWIM core: every node runs a `GossipInstance` on the same virtual
/// clock and the same faulty network, and when a node's gossip view marks the primary its replica
/// follows as suspect, dead or left, the node calls `primaryLost`, as the real shell does
/// (`ReplicationSimulation+Gossip.swift`). The election timeout is only the fallback.
///
/// One `ReplicationRandom` drives everything (each gossip instance is seeded from it) and nothing
/// iterates a hashed collection, so a seed replays exactly. The invariants are checked by
/// `ReplicationSimChecker` as every directive is executed and after every step; the first
/// violation stops the run.
final class ReplicationSimulation {
    struct Options {
        var nodeCount = 4
        var initialMembers = 3
        /// Faults happen in [0, chaos); then everything heals and the run continues for `heal`.
        var chaos: ReplicationDuration = .milliseconds(300)
        var heal: ReplicationDuration = .milliseconds(450)
        /// The client stops writing this long before the end, so replicas can catch up; the run
        /// ends as soon as they have (`settled`), usually well before the end.
        var quiet: ReplicationDuration = .milliseconds(120)
        /// Past the end, the run goes on (no writes, no faults) until the replica set has settled,
        /// for at most this long: gossip may falsely suspect the primary in the last milliseconds,
        /// as it may at any time, and the election it starts must be let finish before the final
        /// checks. A set that does not settle within it (a livelock) fails the run.
        var settle: ReplicationDuration = .milliseconds(400)
        var tickInterval: ReplicationDuration = .milliseconds(5)
        var writeInterval: ReplicationDuration = .milliseconds(6)
        var faults = true
        var settings = ReplicationSimulation.fastSettings
        var gossip = ReplicationSimulation.fastGossipSettings
        /// How often every gossip core is ticked: a fifth of the probe interval, so a probe's phases
        /// end at most 2 ms late (the real shell ticks every 25 ms for 300 ms probes). Coarser, the
        /// survivors' suspicions of a dead primary bunch up and split their votes more often (3 ms
        /// halved the failovers gossip wins); finer costs more than it shows.
        var gossipTickInterval: ReplicationDuration = .milliseconds(2)
        /// Scripted kill of whoever is primary at this time (for the detection tests).
        var killPrimaryAt: ReplicationDuration?
        /// Every node runs the real `SessionDirectory` (`ReplicationSimulation+Directory.swift`):
        /// its `campaign` replaces gossip's direct `primaryLost`, its replica-set changes replace
        /// the client's top-up after healing. Off: the old ad-hoc rules.
        var useDirectory = true
        var directory = ReplicationSimulation.directorySettings(replicas: 3)
        /// From this long after healing, the primary's set must hold `initialMembers` voters.
        var replicaCountBound: ReplicationDuration = .milliseconds(600)
        /// How often lookup certainty and the replica count are checked.
        var directoryCheckInterval: ReplicationDuration = .milliseconds(10)
        /// Mutant (for `ReplicationDirectoryMutationTests`): a shell that calls itself joined
        /// from the start.
        var mutantAlwaysJoined = false
        /// Chance (per fault drawn) that a node's disk fails for a while: every log write and
        /// vote write fails, as on a full disk (`ReplicationSimulation+Storage.swift`).
        var diskFailures = false
        /// The built-in client writing opaque write ids to whoever it believes is primary. Off when
        /// a `workload` drives the writes instead.
        var writeStream = true
        /// The shell compacts its log into snapshots (on the core's hint and as an operator's
        /// fault). The real `SessionHost` never does (session logs are small), so a workload that
        /// models it turns this off.
        var compaction = true
        /// Some write is proposed after healing (and the run fails unless one commits). A workload
        /// whose writes may all be over by then (`WebhookChaos`: a live ended during the chaos)
        /// turns this off; whatever it does propose after healing must still commit.
        var writesAfterHeal = true
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
        /// Messages are boxed: they are large, and the event heap moves events around.
        indirect case deliver(ReplicationMessage, to: Int)
        indirect case gossip(GossipMessage, from: Int, to: Int)
        /// `node`'s connection to `peer` was refused (peer down) or reset (peer killed).
        case gossipSendFailed(peer: Int, node: Int, generation: UInt64)
        case gossipConnectionLost(peer: Int, node: Int, generation: UInt64)
        case diskDone(node: Int, generation: UInt64, round: UInt64)
        /// The shell of `node` retries its failed disk (`ReplicationSimulation+Storage.swift`).
        case diskRetry(node: Int, generation: UInt64)
        /// Each node ticks its cores on its own timer, at its own phase, as separate machines do:
        /// one global tick would start every election due in the same window at the same instant.
        case tick(node: Int)
        case gossipTick(node: Int)
        case clientWrite
        case fault
        case killPrimary
        case heal
        /// The directory's timer of `node` (void if a later one replaced it, or the process died).
        case directoryTick(node: Int, generation: UInt64)
        /// A primary's removal notice reaches node `to` (of the process `generation`).
        case removalNotice(to: Int, epoch: UInt64, generation: UInt64)
        case directoryCheck
        /// Something the `workload` scheduled (a client request arriving, an answer, a timer).
        case workload(UInt64)
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

    /// A class, not a struct: unoptimized test builds copy a whole struct element on every
    /// `nodes[i].field` read, and a node holds two protocol cores.
    final class Node {
        let id: String
        var replica: SessionReplica?
        /// The node's membership core; nil while the process is down.
        var gossip: GossipInstance?
        /// Bumped by every kill; fences disk completions and connection events of an old process.
        var generation: UInt64 = 0
        var disk = Disk()
        var pendingDisk: [DiskOp] = []
        var diskFreeAt: ReplicationTime = .zero
        /// Until then every write to this node's disk fails (a full disk).
        var diskFailingUntil: ReplicationTime?
        /// A write failed: the log takes nothing until the shell recovers it.
        var diskPoisoned = false
        /// Bumped when a failure drops the queued writes: fences their completions.
        var diskRound: UInt64 = 0
        var killedAt: ReplicationTime?
        var alive: Bool { replica != nil }
        /// The node's session directory; nil while the process is down (or without `useDirectory`).
        var directory: SessionDirectory?
        /// When this node's gossip first showed each dead member dead.
        var deadSince: [String: ReplicationTime] = [:]
        var directoryRings: (placed: [String], ring: HashRing, holders: [String], holderRing: HashRing)?
        var directoryTimerAt: ReplicationTime?
        /// When this process first saw itself joined (another member alive).
        var joinedAt: ReplicationTime?
        /// The shell's `lastKnownPrimary`: the copy's primary while it has none (a candidate).
        var lastKnownPrimary: String?
        /// The kill of a primary this node's campaign was last counted as detecting.
        var detectedKill: ReplicationTime?
        /// The disk holds a copy (started or adopted here), and whether it is marked removed
        /// (retired): a restart loads a copy that is not.
        var holdsCopyOnDisk = false
        var markedRemoved = false

        init(id: String) {
            self.id = id
        }
    }

    let seed: UInt64
    let options: Options
    let session = "s"
    /// Where each node's gossip listens ("sim://n0", …); the core addresses its messages by it.
    let gossipAddresses: [String]
    var now: ReplicationTime = .zero
    var nodes: [Node] = []
    var random: ReplicationRandom
    var queue = EventQueue<Event>()
    var checker: ReplicationSimChecker
    /// Nodes whose replica was called (or replaced) in the current step, a bit each: the invariants
    /// are checked for them when the step ends.
    var touched: UInt64 = 0
    var trace = TraceHash()

    // Network state.
    var loss = 0.0
    var duplication = 0.0
    var partition: [Int]?
    /// A node whose messages (both ways) take up to `slowExtra` longer: gossip suspects it falsely.
    var slowNode: Int?
    var slowExtra: UInt64 = 0

    // Client state.
    var believedPrimary: Int?
    var nextWriteID: UInt64 = 1
    var healTime: ReplicationTime?
    /// Time from healing to the first commit of a write proposed after healing.
    var recoveryTime: ReplicationDuration?
    var faultCount = 0
    /// When the last primary was killed, until a new one is elected.
    var primaryKilledAt: ReplicationTime?
    /// What happened in the run, to show the fault mix really exercises the protocol.
    var stats = ReplicationSimStats()
    /// Writes and checks layered on the replica set (the red-packet clients and the session
    /// shells of `RedPacketChaos`); told of every log change, commit and process change.
    var workload: (any ReplicationWorkload)?

    var initialMembers: [String] { (0..<options.initialMembers).map { "n\($0)" } }
    var endTime: ReplicationTime { .zero + options.chaos + options.heal }

    init(seed: UInt64, options: Options = Options()) {
        self.seed = seed
        self.options = options
        self.random = ReplicationRandom(seed: seed)
        self.checker = ReplicationSimChecker(nodeCount: options.nodeCount, seed: seed)
        self.gossipAddresses = (0..<options.nodeCount).map { "sim://n\($0)" }
        for i in 0..<options.nodeCount { nodes.append(Node(id: "n\(i)")) }
        // Every node's membership core starts at once; they find each other through the seeds.
        for i in nodes.indices { startGossip(i) }
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
        // Directories: n0 started the session, the other initial members hold it as replicas, the
        // spares hold nothing until a primary ships them the log.
        for i in nodes.indices {
            startDirectory(i, origin: i == 0 ? .started : i < options.initialMembers ? .adopted : .none)
        }
        if options.useDirectory { queue.push(.directoryCheck, at: now + options.directoryCheckInterval) }
        for i in nodes.indices {
            queue.push(.tick(node: i), at: now + phase(within: options.tickInterval))
            queue.push(.gossipTick(node: i), at: now + phase(within: options.gossipTickInterval))
        }
        if options.writeStream { queue.push(.clientWrite, at: now + options.writeInterval) }
        if options.faults { queue.push(.fault, at: now + .milliseconds(10)) }
        if let at = options.killPrimaryAt { queue.push(.killPrimary, at: .zero + at) }
        queue.push(.heal, at: .zero + options.chaos)
    }

    /// Runs the chaos, the healing and the write stream, then on until the replica set has settled
    /// and the workload, if any, is quiescent (usually soon after the last write, well before the
    /// end), and performs the final checks;
    /// returns the violations (empty when fine).
    func run() -> [String] {
        let lastWrites = ReplicationTime.zero + (options.chaos + options.heal - options.quiet)
        while checker.violations.isEmpty, let time = queue.nextTime, time <= lastWrites {
            now = time
            step(queue.pop()!.event)
        }
        let settleBy = endTime + options.settle
        while checker.violations.isEmpty, !settled || workload?.quiescent == false, let time = queue.nextTime,
            time <= settleBy
        {
            now = time
            step(queue.pop()!.event)
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
            if options.useDirectory, !holdsCopy(to) {
                // No copy here (a spare, a retired or unloaded copy): adopted on an append.
                _ = deliverWithoutCopy(message, to: to)
            } else {
                let directives = nodes[to].replica!.receive(message, from: message.sender, now: now)
                execute(directives, at: to)
            }
        case .gossip(let message, let from, let to):
            deliverGossip(message, from: from, to: to)
        case .gossipSendFailed(let peer, let i, let generation):
            guard nodes[i].generation == generation, nodes[i].gossip != nil else { return }
            trace.record(16, UInt64(i), UInt64(peer))
            executeGossip(nodes[i].gossip!.sendFailed(to: gossipAddress(peer), now: gossipNow), at: i)
        case .gossipConnectionLost(let peer, let i, let generation):
            guard nodes[i].generation == generation, nodes[i].gossip != nil else { return }
            trace.record(17, UInt64(i), UInt64(peer))
            executeGossip(nodes[i].gossip!.connectionLost(to: gossipAddress(peer), now: gossipNow), at: i)
        case .diskDone(let i, let generation, let round):
            guard nodes[i].alive, nodes[i].generation == generation, nodes[i].diskRound == round,
                !nodes[i].pendingDisk.isEmpty
            else { return }
            if diskFails(i) { return diskWriteFailed(i) }
            let op = nodes[i].pendingDisk.removeFirst()
            applyToDisk(op, node: i)
            execute(nodes[i].replica!.localDurable(upTo: op.lastSeq, now: now), at: i)
        case .diskRetry(let i, let generation):
            retryDisk(i, generation: generation)
        case .tick(let i):
            if nodes[i].alive, !options.useDirectory || holdsCopy(i) {
                execute(nodes[i].replica!.tick(now: now), at: i)
            }
            queue.push(.tick(node: i), at: now + options.tickInterval)
        case .gossipTick(let i):
            if nodes[i].gossip != nil { executeGossip(nodes[i].gossip!.tick(now: gossipNow), at: i) }
            queue.push(.gossipTick(node: i), at: now + options.gossipTickInterval)
        case .clientWrite:
            clientWrite()
            if now + options.writeInterval + options.quiet < endTime {
                queue.push(.clientWrite, at: now + options.writeInterval)
            }
        case .fault:
            injectFault()
            let gap = ReplicationDuration(nanoseconds: 5_000_000 + random.next() % 25_000_000)
            if now + gap < .zero + options.chaos { queue.push(.fault, at: now + gap) }
        case .killPrimary:
            if let p = currentPrimary() { kill(p) }
        case .heal:
            heal()
        case .directoryTick(let i, let generation):
            directoryTick(i, generation: generation)
        case .removalNotice(let to, let epoch, let generation):
            deliverRemovalNotice(to: to, epoch: epoch, generation: generation)
        case .directoryCheck:
            directoryCheck()
            queue.push(.directoryCheck, at: now + options.directoryCheckInterval)
        case .workload(let token):
            workload?.fire(token)
        }
        // Invariants after every step, for every replica the step called (most steps are gossip
        // that calls none).
        if touched != 0 {
            checker.checkNodes(touched, nodes: nodes)
            touched = 0
        }
    }

    // MARK: Directives

    /// Every call into a replica ends here with its directives, which is what marks it `touched`.
    func execute(_ directives: [ReplicationDirective], at i: Int) {
        touched |= 1 << UInt64(i)
        /// A vote that could not be stored: nothing after it in this batch may leave the node.
        var voteFailed = false
        for directive in directives {
            guard checker.violations.isEmpty else { return }
            switch directive {
            case .send(let message, let to):
                if voteFailed { continue }
                send(message, from: i, to: to)
            case .persist(let entries, let truncateAfter):
                if truncateAfter != nil { stats.truncations += 1 }
                checker.persisted(entries, truncateAfter: truncateAfter, node: i, nodeID: nodes[i].id)
                let last = entries.last?.seq ?? truncateAfter!
                enqueueDisk(DiskOp(entries: entries, truncateAfter: truncateAfter, lastSeq: last), node: i)
                workload?.logChanged(node: i, entries: entries, truncateAfter: truncateAfter)
            case .persistVote(let epoch, let votedFor):
                if diskFails(i) || nodes[i].diskPoisoned {
                    voteFailed = true
                    continue
                }
                // The shell makes the vote durable before executing the sends that follow it.
                nodes[i].disk.epoch = epoch
                nodes[i].disk.votedFor = votedFor
            case .installSnapshot(let snapshot):
                stats.snapshotsInstalled += 1
                checker.installed(snapshot, node: i)
                enqueueDisk(DiskOp(snapshot: snapshot, lastSeq: snapshot.seq), node: i)
                workload?.snapshotInstalled(node: i)
            case .needSnapshot:
                if options.compaction { compact(i) }
            case .committed(let upTo):
                checker.committed(upTo: upTo, node: i, epoch: nodes[i].replica!.epoch)
                workload?.committed(node: i, upTo: upTo)
                if let healTime, recoveryTime == nil, let first = checker.firstWriteAfterHeal,
                    checker.maxAcknowledgedID >= first
                {
                    recoveryTime = now - healTime
                }
            case .becamePrimary(let epoch):
                log("n\(i) became primary of epoch \(epoch)")
                stats.elections += 1
                if let killedAt = primaryKilledAt {
                    stats.recordFailover(now - killedAt)
                    primaryKilledAt = nil
                }
                trace.record(4, UInt64(i), epoch)
                checker.becamePrimary(epoch: epoch, node: i)
                workload?.becamePrimary(node: i)
            case .notifyRemoved(let node, let epoch):
                sendRemovalNotice(from: i, to: node, epoch: epoch)
            case .steppedDown:
                log("n\(i) stepped down: \(stateSummary)")
                stats.stepDowns += 1
                trace.record(5, UInt64(i))
                workload?.steppedDown(node: i)
            }
        }
        // The shell tells the directory the copy's new status after every call into the replica.
        if checker.violations.isEmpty { reportCopy(i, directives: directives) }
        if voteFailed, checker.violations.isEmpty { diskWriteFailed(i) }
    }

    /// A random offset in `[0, interval)`.
    private func phase(within interval: ReplicationDuration) -> ReplicationDuration {
        ReplicationDuration(nanoseconds: random.next() % max(interval.nanoseconds, 1))
    }

    func enqueueDisk(_ op: DiskOp, node i: Int) {
        // A poisoned log fails every write at once; the core already knows its disk failed.
        if nodes[i].diskPoisoned { return }
        nodes[i].pendingDisk.append(op)
        // fsync latency: usually 0.1–1.5 ms, sometimes a 10 ms stall.
        var latency = 100_000 + random.next() % 1_400_000
        if random.nextUnit() < 0.03 { latency += 10_000_000 }
        let done = max(now, nodes[i].diskFreeAt) + ReplicationDuration(nanoseconds: latency)
        nodes[i].diskFreeAt = done
        queue.push(.diskDone(node: i, generation: nodes[i].generation, round: nodes[i].diskRound), at: done)
    }

    func applyToDisk(_ op: DiskOp, node i: Int) {
        if let snapshot = op.snapshot {
            nodes[i].disk.snapshot = snapshot
            nodes[i].disk.log = []
            // A rewrite after a disk failure may carry entries after the snapshot.
            if op.entries.isEmpty { return }
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
    func compact(_ i: Int) {
        // The shell stores the snapshot first; a failing disk cannot.
        guard !diskFails(i), !nodes[i].diskPoisoned else { return }
        guard let replica = nodes[i].replica, replica.commitSeq > (replica.snapshot?.seq ?? 0) else { return }
        let seq = replica.commitSeq
        let data = SimSnapshotCodec.encode(checker.mirrors[i][0..<Int(seq)])
        nodes[i].replica!.compact(upTo: seq, snapshot: data)
        touched |= 1 << UInt64(i)
        nodes[i].disk.snapshot = nodes[i].replica!.snapshot
        nodes[i].disk.log.removeAll { $0.seq <= seq }
        stats.compactions += 1
        trace.record(6, UInt64(i), seq)
    }

    // MARK: Client

    /// Set `REPL_TRACE=1` (with `REPL_SEED`) to print every client attempt, role change and
    /// gossip verdict about a primary.
    private let verbose = SeedReplay.replication.verbose

    func log(_ line: @autoclosure () -> String) {
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
        if healTime != nil, !options.useDirectory { ensureFullReplicaSet() }
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

    func currentPrimary() -> Int? {
        var best: Int?
        for i in nodes.indices where nodes[i].replica?.role == .primary {
            if best == nil || nodes[i].replica!.epoch > nodes[best!].replica!.epoch { best = i }
        }
        return best
    }

    // MARK: End of run

    /// A primary whose members all run and have learned its whole log as committed.
    var settled: Bool {
        guard let p = currentPrimary(), let primary = nodes[p].replica, primary.commitSeq == primary.lastSeq else {
            return false
        }
        for id in primary.members {
            guard let i = index(of: id), let replica = nodes[i].replica, replica.epoch == primary.epoch,
                replica.commitSeq == primary.commitSeq
            else { return false }
            if options.useDirectory, !holdsCopy(i) { return false }
        }
        // The directory restores the replica count; the run waits for it too.
        if options.useDirectory, primary.members.count != options.initialMembers || !primary.learners.isEmpty {
            return false
        }
        return true
    }

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
        guard recoveryTime != nil || !options.writesAfterHeal && checker.firstWriteAfterHeal == nil else {
            checker.fail("seed \(seed): no write proposed after healing was committed: \(stateSummary)")
            return
        }
        guard settled else {
            checker.fail("seed \(seed): the replica set did not settle within \(options.settle): \(stateSummary)")
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
