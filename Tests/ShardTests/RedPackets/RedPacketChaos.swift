import Live
import Shard
import SimulationSupport

/// Red packets under the replication chaos simulation: the real `LiveSession` decides on
/// whichever simulated node is primary, inside a `RedPacketShell` per node (`SessionHost`'s
/// write path), while `ReplicationSimulation` kills, restarts, partitions, loses, duplicates and
/// delays, and fails over.
///
/// Clients are people with an HTTP client: the host starts the live; senders send a few packets
/// (1 share, 200 shares, a few random ones); once a send is acknowledged, many users grab it,
/// each retrying the same grab as the same user until answered (a timeout, a lost answer, a 503
/// or a redirect leads to another attempt, possibly at another node and another primary, as a
/// forwarding node's retries do). Some packets are followed by a kill of the primary while their
/// grabs are in flight. The host ends the live after healing, which returns every open packet's
/// rest to its sender (`SessionHost.write(.end)`); the primary's TTL pass expires packets before.
///
/// Checked, per seed (`check`): every answer a user got for a packet (late ones of abandoned
/// attempts too) gives the same amount, the amount of their grab in the committed log; the
/// committed log keeps the red-packet rules (`RedPacketLedger`); every node's committed log is a
/// prefix of the one committed log, and every member ends holding it, its state the one the log
/// builds; no event a shell took into its log failed to apply.
final class RedPacketChaos: ReplicationWorkload {
    /// What a node answers to one attempt.
    enum Reply: Equatable {
        /// Logged (now or by an earlier attempt: `repeated`); a grab's amount.
        case logged(seq: UInt64, amount: Int64?, repeated: Bool)
        /// The session refused the command: an answer, final unless rate limited.
        case refused(LiveError)
        /// Not (or no longer) the primary; the one it knows, if any (the forwarding loop).
        case notPrimary(hint: String?)
        /// The node cannot take writes (its log failed) or the connection was refused.
        case unavailable
        /// The primary stepped down or lost the entry before it committed (503 outcome_unknown).
        case outcomeUnknown

        var isAnswer: Bool {
            switch self {
            case .logged: true
            case .refused(.rateLimited): false
            case .refused: true
            default: false
            }
        }
    }

    enum Kind: Equatable {
        case start
        case send(packet: Int)
        case grab(packet: Int)
        /// A keyed write another workload adds (`addWrite`: a tip, a comment): answered once,
        /// nothing follows it.
        case write
        case end
    }

    /// What the live is besides its packets: this workload uses the defaults; a workload layered
    /// on it (`WebhookChaos`) records the live, ends it elsewhere in time and adds writes.
    struct Plan {
        /// The start's `record`.
        var record = false
        /// The end comes this many ms after the chaos ends (negative: during it), drawn uniformly.
        var endAfterChaos: ClosedRange<Int64> = 120...199
        /// At most this many users grab one packet (the crowd on the 200-share one costs most).
        var maxUsers = Int.max
    }

    final class Client {
        let kind: Kind
        let command: LiveCommand
        let actor: LiveActor
        /// The answer that ended its retries.
        var answer: Reply?
        /// The attempt in flight (nil between attempts).
        var current: Int?
        var attempts = 0
        /// Every answer any of its attempts got, late ones included.
        var answers: [Reply] = []
        /// Gave up: the run's writes were over before an answer came.
        var gaveUp = false

        init(kind: Kind, command: LiveCommand, actor: LiveActor) {
            self.kind = kind
            self.command = command
            self.actor = actor
        }
    }

    struct Packet {
        let id: String
        let sender: Int
        var grabbers: [Int] = []
        /// The send was acknowledged with this seq.
        var sentSeq: UInt64?
        var users: Int
        var spread: UInt64
        var raceKill: Bool
    }

    enum Action {
        /// A client (re)tries: picks a node and sends.
        case attempt(client: Int, node: Int?)
        case arrive(attempt: Int, node: Int)
        case reply(attempt: Int, Reply)
        case timeout(attempt: Int)
        /// A job of node's shell resumes after the commit it waited for.
        case resumeJob(node: Int, shell: ObjectIdentifier, job: Int)
        /// Every node's primary TTL pass (`SessionHost.tick`).
        case ttlTick
        /// A kill of whoever is primary while a packet's grabs are in flight.
        case raceKill
    }

    struct Stats: CustomStringConvertible {
        var seeds = 0, packetsSent = 0, grabsAnswered = 0, amountsAnswered = 0, gone = 0, repeatedAnswers = 0
        var attempts = 0, retriedGrabs = 0, lateAnswers = 0, redirects = 0, timeouts = 0, outcomeUnknown = 0
        var truncatedEvents = 0, raceKills = 0, ttlExpiries = 0, endExpiries = 0, ended = 0, gaveUp = 0
        var staleRefusals = 0, fullPackets = 0

        static func + (a: Stats, b: Stats) -> Stats {
            var s = a
            s.seeds += b.seeds
            s.packetsSent += b.packetsSent
            s.grabsAnswered += b.grabsAnswered
            s.amountsAnswered += b.amountsAnswered
            s.gone += b.gone
            s.repeatedAnswers += b.repeatedAnswers
            s.attempts += b.attempts
            s.retriedGrabs += b.retriedGrabs
            s.lateAnswers += b.lateAnswers
            s.redirects += b.redirects
            s.timeouts += b.timeouts
            s.outcomeUnknown += b.outcomeUnknown
            s.truncatedEvents += b.truncatedEvents
            s.raceKills += b.raceKills
            s.ttlExpiries += b.ttlExpiries
            s.endExpiries += b.endExpiries
            s.ended += b.ended
            s.gaveUp += b.gaveUp
            s.staleRefusals += b.staleRefusals
            s.fullPackets += b.fullPackets
            return s
        }

        var description: String {
            "\(seeds) seeds: \(packetsSent) packets sent (\(fullPackets) emptied), \(grabsAnswered) grabs answered "
                + "(\(amountsAnswered) with an amount, \(gone) gone, \(repeatedAnswers) repeats), \(attempts) attempts, "
                + "\(retriedGrabs) grabs retried, \(lateAnswers) late answers, \(redirects) redirects, "
                + "\(timeouts) timeouts, \(outcomeUnknown) outcome unknown, \(truncatedEvents) events truncated, "
                + "\(raceKills) primaries killed mid-grab, \(ttlExpiries) TTL and \(endExpiries) end expiries, "
                + "\(ended) lives ended, \(gaveUp) clients gave up, \(staleRefusals) refusals by a stale primary"
        }
    }

    unowned let simulation: ReplicationSimulation
    let settings: LiveSessionSettings
    private(set) var shells: [RedPacketShell?]
    private(set) var clients: [Client] = []
    /// The end's client.
    private var endClient: Int?
    private(set) var packets: [Packet] = []
    /// Each attempt's client and node.
    private var attempts: [(client: Int, node: Int)] = []
    private var actions = WorkloadActions<Action>()
    private(set) var stats = Stats()
    /// The live ended with packets open (`check`): the known bug of `SessionHost.write(.end)`,
    /// which returns only the packets open when it starts, while sends go on during its commits.
    private(set) var openAtEnd: String?
    private var started = false
    /// Senders due before the live was acknowledged as started: they go once it is.
    private var waitingForStart: [Int] = []
    /// No client tries again after this: the simulation's write window is over.
    let stopAt: ReplicationTime
    /// Clients' wall clock at virtual zero (ms since the Unix epoch).
    static let epochMillis: Int64 = 1_800_000_000_000
    static let host = LiveActor(user: "host", name: "Host", role: .owner)

    /// The chaos simulation's options with this workload's writes in place of the id stream, and
    /// without compaction: the real node never compacts a session's log.
    static var simulationOptions: ReplicationSimulation.Options {
        var options = ReplicationSimulation.Options()
        options.writeStream = false
        options.compaction = false
        return options
    }

    /// Builds the seed's plan (packets, users, times) from the simulation's generator and
    /// attaches to it.
    init(simulation: ReplicationSimulation, plan livePlan: Plan = Plan()) {
        self.simulation = simulation
        var settings = LiveSessionSettings()
        // Senders retry a send they are never answered: not the rate limit's business here.
        settings.writeBurst = 1_000
        settings.redPacketTTLMillis = Int64(120 + simulation.random.next() % 600)
        self.settings = settings
        stopAt = ReplicationTime.zero + (simulation.options.chaos + simulation.options.heal - simulation.options.quiet)
        shells = simulation.nodes.indices.map { i in
            simulation.nodes[i].replica.map { RedPacketShell(node: i, settings: settings, log: $0.entries) }
        }
        simulation.workload = self
        plan(livePlan)
    }

    // MARK: The plan

    private func draw(_ bound: UInt64) -> UInt64 { simulation.random.next() % max(bound, 1) }

    private func addClient(_ kind: Kind, _ command: LiveCommand, _ actor: LiveActor) -> Int {
        clients.append(Client(kind: kind, command: command, actor: actor))
        return clients.count - 1
    }

    private func plan(_ livePlan: Plan) {
        let start = addClient(.start, .start(title: "red packets", record: livePlan.record), Self.host)
        schedule(.attempt(client: start, node: nil), at: .zero + .milliseconds(1))
        let chaosMillis = Int64(simulation.options.chaos.nanoseconds / 1_000_000)
        let endOffset =
            livePlan.endAfterChaos.lowerBound
            + Int64(draw(UInt64(livePlan.endAfterChaos.upperBound - livePlan.endAfterChaos.lowerBound + 1)))
        let endAt = ReplicationTime.zero + .milliseconds(UInt64(chaosMillis + endOffset))
        let count = 4 + Int(draw(3))
        // Some seeds send their last packet around the end: the end must return it too.
        let lastAtTheEnd = draw(10) < 3
        for p in 0..<count {
            let shares: Int
            switch p {
            case 0: shares = 1
            case 1: shares = RedPacketSplit.maxShares
            default: shares = 2 + Int(draw(39))
            }
            // Sometimes one cent a share, else up to 100 a share (capped at the limit).
            let perShare: Int64 = draw(6) == 0 ? 1 : 1 + Int64(draw(100))
            let total = min(Int64(shares) * perShare + Int64(draw(UInt64(shares))), settings.maxRedPacketTotal)
            let id = "rp\(p)"
            let sender = addClient(
                .send(packet: p),
                .redPacket(total: total, currency: "CNY", shares: shares, clientID: id),
                LiveActor(user: "s\(p)", name: "Sender \(p)", role: .member)
            )
            // Fewer users than shares, as many, or more: a packet is emptied or left to expire.
            let users: Int
            switch shares {
            case 1: users = 2 + Int(draw(6))
            case RedPacketSplit.maxShares: users = 170 + Int(draw(61))
            default: users = max(1, shares / 2 + Int(draw(UInt64(shares + 1))))
            }
            packets.append(
                Packet(
                    id: id,
                    sender: sender,
                    users: min(users, livePlan.maxUsers),
                    spread: 2 + draw(38),
                    raceKill: draw(10) < 4
                )
            )
            let at: ReplicationTime
            if lastAtTheEnd, p == count - 1 {
                at = .zero + .milliseconds(UInt64(chaosMillis + endOffset - 3) + draw(9))
            } else {
                at = .zero + .milliseconds(8 + draw(250))
            }
            schedule(.attempt(client: sender, node: nil), at: at)
        }
        let end = addClient(.end, .end, Self.host)
        endClient = end
        schedule(.attempt(client: end, node: nil), at: endAt)
        schedule(.ttlTick, at: .zero + .milliseconds(20))
    }

    /// A keyed write (a tip, a comment) by `actor` at `time`, or once the live is acknowledged as
    /// started: tried as every client's request is until answered.
    func addWrite(_ command: LiveCommand, by actor: LiveActor, at time: ReplicationTime) {
        schedule(.attempt(client: addClient(.write, command, actor), node: nil), at: time)
    }

    /// The grabs of packet p start once its send is acknowledged: each user's first attempt within
    /// the packet's spread; sometimes the primary dies among them.
    private func sendAcknowledged(_ p: Int, seq: UInt64) {
        guard packets[p].sentSeq == nil else { return }
        packets[p].sentSeq = seq
        stats.packetsSent += 1
        let offset = Int(draw(300))
        for j in 0..<packets[p].users {
            let user = "u\((offset + j) % 300)"
            let client = addClient(
                .grab(packet: p),
                .grab(redPacket: packets[p].id),
                LiveActor(user: user, role: .member)
            )
            packets[p].grabbers.append(client)
            schedule(
                .attempt(client: client, node: nil),
                at: simulation.now + ReplicationDuration(nanoseconds: draw(packets[p].spread * 1_000_000))
            )
        }
        if packets[p].raceKill, simulation.now + .milliseconds(10) < ReplicationTime.zero + simulation.options.chaos {
            schedule(
                .raceKill,
                at: simulation.now + ReplicationDuration(nanoseconds: draw(packets[p].spread * 500_000))
            )
        }
    }

    // MARK: Events

    private func schedule(_ action: Action, at time: ReplicationTime) {
        simulation.schedule(actions.add(action), at: time)
    }

    func fire(_ token: UInt64) {
        guard let action = actions.take(token) else { return }
        switch action {
        case .attempt(let client, let node): attempt(client, at: node)
        case .arrive(let attempt, let node): arrive(attempt, at: node)
        case .reply(let attempt, let reply): replied(attempt, reply)
        case .timeout(let attempt): timedOut(attempt)
        case .resumeJob(let node, let shell, let job):
            guard let current = shells[node], ObjectIdentifier(current) == shell else { return }
            runJob(job, at: node)
        case .ttlTick:
            ttlTick()
            if simulation.now < stopAt { schedule(.ttlTick, at: simulation.now + .milliseconds(20)) }
        case .raceKill:
            let dead = simulation.nodes.filter { !$0.alive }.count
            guard dead < 2, let p = simulation.currentPrimary() else { return }
            stats.raceKills += 1
            simulation.log("red packets: kill primary n\(p) among grabs")
            simulation.kill(p)
        }
    }

    /// 0.2–0.8 ms, and 5% of messages 0–8 ms late: a client's request or answer on the way.
    private func clientDelay() -> ReplicationDuration {
        var delay = 200_000 + draw(600_000)
        if simulation.random.nextUnit() < 0.05 { delay += draw(8_000_000) }
        return ReplicationDuration(nanoseconds: delay)
    }

    private func lost() -> Bool { simulation.random.nextUnit() < simulation.loss }

    // MARK: Clients

    /// Client c tries (again), at `node` (a redirect) or at a node a load balancer picks.
    private func attempt(_ c: Int, at node: Int?) {
        let client = clients[c]
        guard client.answer == nil, client.current == nil else { return }
        if client.kind == .write || client.kind.isSend, !started {
            waitingForStart.append(c)
            return
        }
        guard simulation.now < stopAt else {
            client.gaveUp = true
            stats.gaveUp += 1
            return
        }
        let target = node ?? Int(draw(UInt64(simulation.nodes.count)))
        let a = attempts.count
        attempts.append((c, target))
        client.current = a
        client.attempts += 1
        stats.attempts += 1
        simulation.trace.record(40, UInt64(c), UInt64(target), UInt64(client.attempts))
        schedule(.timeout(attempt: a), at: simulation.now + .milliseconds(30 + draw(30)))
        guard simulation.nodes[target].alive else {
            // Connection refused: known after a round trip.
            schedule(.reply(attempt: a, .unavailable), at: simulation.now + clientDelay() + clientDelay())
            return
        }
        if lost() { return }
        schedule(.arrive(attempt: a, node: target), at: simulation.now + clientDelay())
    }

    private func timedOut(_ a: Int) {
        let client = clients[attempts[a].client]
        guard client.current == a else { return }
        client.current = nil
        stats.timeouts += 1
        attempt(attempts[a].client, at: nil)
    }

    private func replied(_ a: Int, _ reply: Reply) {
        let c = attempts[a].client
        let client = clients[c]
        simulation.trace.record(41, UInt64(c), UInt64(a), Self.traceTag(reply))
        if reply.isAnswer { client.answers.append(reply) }
        guard client.current == a else {
            if reply.isAnswer { stats.lateAnswers += 1 }
            return
        }
        client.current = nil
        switch reply {
        case .refused(.rateLimited(let millis)):
            schedule(.attempt(client: c, node: nil), at: simulation.now + .milliseconds(UInt64(max(millis, 1))))
        case .notPrimary(let hint):
            stats.redirects += 1
            let next = hint.flatMap { simulation.index(of: $0) }
            if let next, next != attempts[a].node {
                schedule(
                    .attempt(client: c, node: next),
                    at: simulation.now + ReplicationDuration(nanoseconds: 300_000)
                )
            } else {
                // No primary known there (an election): the forwarding loop waits and asks again.
                schedule(.attempt(client: c, node: nil), at: simulation.now + .milliseconds(3 + draw(5)))
            }
        case .unavailable, .outcomeUnknown:
            if reply == .outcomeUnknown { stats.outcomeUnknown += 1 }
            schedule(.attempt(client: c, node: nil), at: simulation.now + .milliseconds(2 + draw(6)))
        case .logged, .refused:
            client.answer = reply
            answered(c, reply)
        }
    }

    private func answered(_ c: Int, _ reply: Reply) {
        let client = clients[c]
        switch (client.kind, reply) {
        case (.start, _):
            started = true
            for sender in waitingForStart { schedule(.attempt(client: sender, node: nil), at: simulation.now) }
            waitingForStart = []
        case (.send(let p), .logged(let seq, _, _)):
            sendAcknowledged(p, seq: seq)
        case (.grab, .logged(_, let amount, let repeated)):
            stats.grabsAnswered += 1
            if amount != nil { stats.amountsAnswered += 1 }
            if repeated { stats.repeatedAnswers += 1 }
            if client.attempts > 1 { stats.retriedGrabs += 1 }
        case (.grab, .refused(let error)):
            stats.grabsAnswered += 1
            if case .gone = error { stats.gone += 1 }
            if client.attempts > 1 { stats.retriedGrabs += 1 }
        default:
            break
        }
    }

    static func traceTag(_ reply: Reply) -> UInt64 {
        switch reply {
        case .logged(let seq, let amount, let repeated):
            1 &+ seq << 8 &+ UInt64(bitPattern: amount ?? 0) << 24 &+ (repeated ? 2 : 0)
        case .refused(let error): 3 &+ UInt64(error.httpStatus) << 8
        case .notPrimary: 5
        case .unavailable: 6
        case .outcomeUnknown: 7
        }
    }

    // MARK: Nodes

    /// The answer leaves node i for the client (lost on a lossy network: the client times out).
    private func send(_ reply: Reply, for a: Int) {
        if lost() { return }
        schedule(.reply(attempt: a, reply), at: simulation.now + clientDelay())
    }

    /// Why node i cannot take a write now, as `SessionRouter.write` and `SessionHost.write` see it.
    private func refusal(at i: Int) -> Reply? {
        let node = simulation.nodes[i]
        guard let replica = node.replica, shells[i] != nil else { return .unavailable }
        // No copy here (retired, or a spare): the router looks the primary up.
        if simulation.options.useDirectory, !simulation.holdsCopy(i) {
            return .notPrimary(hint: replica.primary ?? node.lastKnownPrimary)
        }
        if node.diskPoisoned { return .unavailable }
        guard replica.role == .primary else { return .notPrimary(hint: replica.primary) }
        return nil
    }

    private func nowMillis() -> Int64 {
        Self.epochMillis + Int64(simulation.now.nanoseconds / 1_000_000)
    }

    /// A request reaches node i (if its process still runs).
    private func arrive(_ a: Int, at i: Int) {
        guard simulation.nodes[i].alive, let shell = shells[i] else { return }
        let client = clients[attempts[a].client]
        if let refusal = refusal(at: i) { return send(refusal, for: a) }
        if client.kind == .end {
            // `write(.end)`: every open packet's rest goes back first, one commit at a time.
            let open = shell.state.redPackets.filter { $0.value.open }.keys.sorted()
            startJob(RedPacketShell.Job(ids: open, endAttempt: a, nowMillis: nowMillis()), at: i)
            return
        }
        switch write(client.command, by: client.actor, nowMillis: nowMillis(), at: i, shell: shell) {
        case .answered(let reply): send(reply, for: a)
        case .waiting(let logSeq, let then): wait(shell, logSeq: logSeq, then: then(a), at: i)
        }
    }

    enum WriteStart {
        case answered(Reply)
        /// Waits for the entry at `logSeq`; the continuation for a given attempt.
        case waiting(logSeq: UInt64, then: (Int) -> RedPacketShell.Continuation)
    }

    /// `SessionHost.write` for one command on primary i, up to the wait for the commit.
    private func write(
        _ command: LiveCommand,
        by actor: LiveActor,
        nowMillis: Int64,
        at i: Int,
        shell: RedPacketShell
    ) -> WriteStart {
        let decision = shell.decide(command, by: actor, nowMillis: nowMillis, entropy: simulation.random.next())
        switch decision {
        case .failure(let error):
            // The real node answers refusals from its state, uncommitted part included, without
            // asking a majority: a deposed primary that does not know it yet may say "empty" or
            // "not found" where the committed log would not. Counted, not failed.
            if command.grabbedPacket != nil, simulation.currentPrimary() != i { stats.staleRefusals += 1 }
            return .answered(.refused(error))
        case .success(.likes):
            return .answered(.refused(.conflict))
        case .success(.duplicate(let seq)):
            let index = Int(seq) - 1
            guard index < shell.eventLogSeqs.count else {
                return .answered(.logged(seq: seq, amount: nil, repeated: true))
            }
            let logSeq = shell.eventLogSeqs[index]
            return .waiting(logSeq: logSeq, then: { .answerIndex(attempt: $0, index: index) })
        case .success(.append(let event)):
            let payload = LiveEventCodec.encode(event)
            let outcome = simulation.proposeWrite(payload, at: i) { logSeq in shell.proposed = (logSeq, event) }
            switch outcome {
            case .success(let logSeq):
                return .waiting(logSeq: logSeq, then: { .answerEvent(attempt: $0, event: event) })
            case .failure(.transferInProgress(let target)):
                return .answered(.notPrimary(hint: target))
            case .failure:
                return .answered(.notPrimary(hint: simulation.nodes[i].replica?.primary))
            }
        }
    }

    /// Registers the wait (`SessionHost.waitCommitted`): answered at once when already committed.
    private func wait(_ shell: RedPacketShell, logSeq: UInt64, then: RedPacketShell.Continuation, at i: Int) {
        if logSeq <= simulation.nodes[i].replica!.commitSeq {
            resume([RedPacketShell.Waiter(logSeq: logSeq, then: then)], committed: true, at: i)
        } else {
            shell.wait(for: logSeq, then: then)
        }
    }

    /// Waiters whose entry committed (or whose fate became unknown) at node i.
    private func resume(_ waiters: [RedPacketShell.Waiter], committed: Bool, at i: Int) {
        guard let shell = shells[i] else { return }
        for waiter in waiters {
            switch waiter.then {
            case .answerEvent(let a, let event):
                send(committed ? Self.logged(event, repeated: false) : .outcomeUnknown, for: a)
            case .answerIndex(let a, let index):
                send(committed ? Self.logged(shell.events[index], repeated: true) : .outcomeUnknown, for: a)
            case .job(let job):
                if committed {
                    // The job's continuation runs on the actor after this call into the core.
                    schedule(.resumeJob(node: i, shell: ObjectIdentifier(shell), job: job), at: simulation.now)
                } else {
                    failJob(job, .outcomeUnknown, at: i)
                }
            }
        }
    }

    static func logged(_ event: LiveEvent, repeated: Bool) -> Reply {
        .logged(seq: event.seq, amount: event.type == .redpacketGrab ? event.amount : nil, repeated: repeated)
    }

    // MARK: The primary's own writes

    /// `SessionHost.tick` → `expireDueRedPackets` on every primary: packets past their TTL.
    private func ttlTick() {
        let now = nowMillis()
        for i in shells.indices {
            guard let shell = shells[i], refusal(at: i) == nil, !shell.expiring, shell.state.phase == .live else {
                continue
            }
            let due = shell.state.redPackets.filter { $0.value.open && $0.value.expiresAt <= now }.keys.sorted()
            guard !due.isEmpty else { continue }
            shell.expiring = true
            startJob(RedPacketShell.Job(ids: due, endAttempt: nil, nowMillis: now), at: i)
        }
    }

    private func startJob(_ job: RedPacketShell.Job, at i: Int) {
        let shell = shells[i]!
        let id = shell.nextJob
        shell.nextJob += 1
        shell.jobs[id] = job
        runJob(id, at: i)
    }

    /// One step of a job: the next expiry (`expireRedPackets`), or, once none is left, the end.
    private func runJob(_ id: Int, at i: Int) {
        guard let shell = shells[i], var job = shell.jobs[id] else { return }
        if let refusal = refusal(at: i) { return failJob(id, refusal, at: i) }
        if job.next == job.ids.count, job.endAttempt != nil {
            // The end looks again once its pass is done: a packet sent meanwhile is returned too,
            // and the end is decided with none open (`SessionHost.write(.end)`).
            let open = shell.state.redPackets.filter { $0.value.open }.keys.sorted()
            if !open.isEmpty {
                job.ids = open
                job.next = 0
                shell.jobs[id] = job
            }
        }
        guard job.next < job.ids.count else {
            shell.jobs[id] = nil
            guard let a = job.endAttempt else {
                shell.expiring = false
                return
            }
            switch write(.end, by: Self.host, nowMillis: job.nowMillis, at: i, shell: shell) {
            case .answered(let reply): send(reply, for: a)
            case .waiting(let logSeq, let then): wait(shell, logSeq: logSeq, then: then(a), at: i)
            }
            return
        }
        let packet = job.ids[job.next]
        job.next += 1
        shell.jobs[id] = job
        let isEnd = job.endAttempt != nil
        switch write(.expireRedPacket(packet), by: Self.host, nowMillis: job.nowMillis, at: i, shell: shell) {
        case .answered(.refused(.gone)), .answered(.logged):
            // Taken or expired meanwhile.
            runJob(id, at: i)
        case .answered(let reply):
            failJob(id, reply, at: i)
        case .waiting(let logSeq, _):
            if isEnd { stats.endExpiries += 1 } else { stats.ttlExpiries += 1 }
            wait(shell, logSeq: logSeq, then: .job(id), at: i)
        }
    }

    /// The job stops: the end's client gets the error (`write(.end)` rethrows it), a TTL pass
    /// just ends (retried at a later tick).
    private func failJob(_ id: Int, _ reply: Reply, at i: Int) {
        guard let shell = shells[i], let job = shell.jobs.removeValue(forKey: id) else { return }
        if let a = job.endAttempt { send(reply, for: a) } else { shell.expiring = false }
    }

    // MARK: ReplicationWorkload

    func logChanged(node i: Int, entries: [ReplicationEntry], truncateAfter: UInt64?) {
        guard let shell = shells[i] else { return }
        if let truncateAfter {
            let before = shell.events.count
            let failed = shell.truncate(after: truncateAfter)
            stats.truncatedEvents += before - shell.events.count
            resume(failed, committed: false, at: i)
        }
        let failures = shell.applyFailures.count
        for entry in entries { shell.apply(entry) }
        if shell.applyFailures.count > failures {
            simulation.checker.fail("n\(i) could not apply an event of its log: \(shell.applyFailures.last!)")
        }
    }

    func snapshotInstalled(node i: Int) {
        simulation.checker.fail("n\(i) installed a snapshot: the red-packet shells model a node that never compacts")
    }

    func committed(node i: Int, upTo: UInt64) {
        guard let shell = shells[i] else { return }
        resume(shell.committed(upTo: upTo), committed: true, at: i)
    }

    func steppedDown(node i: Int) {
        guard let shell = shells[i], let replica = simulation.nodes[i].replica else { return }
        resume(shell.failWaiters(above: replica.commitSeq), committed: false, at: i)
    }

    func killed(node i: Int) {
        shells[i] = nil
    }

    func restarted(node i: Int) {
        let shell = RedPacketShell(node: i, settings: settings, log: simulation.nodes[i].replica!.entries)
        shells[i] = shell
        if let failure = shell.applyFailures.first {
            simulation.checker.fail("n\(i) restarted with a log it could not apply: \(failure)")
        }
    }

    // MARK: Checks

    /// The events of the committed log, in order.
    func committedEvents() -> (events: [LiveEvent], failure: String?) {
        var events: [LiveEvent] = []
        for entry in simulation.checker.committedLog {
            guard case .data(let payload) = entry.kind, RedPacketShell.isEvent(payload) else { continue }
            do {
                events.append(try RedPacketShell.event(of: payload))
            } catch {
                return (events, "committed entry \(entry.seq) does not decode: \(error)")
            }
        }
        return (events, nil)
    }

    /// The per-seed checks after a run the replication checker passed; the violations.
    func check() -> [String] {
        var violations: [String] = []
        func fail(_ message: String) {
            if violations.count < 10 { violations.append("seed \(simulation.seed): \(message)") }
        }
        let (events, failure) = committedEvents()
        if let failure {
            fail(failure)
            return violations
        }
        // 2 and 4: the rules on the committed log.
        let ledger = RedPacketLedger(events)
        for violation in ledger.violations { fail("committed log: \(violation)") }
        stats.fullPackets += ledger.packets.values.filter { $0.taken == $0.amounts.count }.count
        // 1 and 3: answers agree with each other and with the log.
        for p in packets.indices {
            let packet = packets[p]
            if let seq = packet.sentSeq, ledger.packets[packet.id]?.seq != seq {
                fail("send of \(packet.id) acknowledged at seq \(seq), not in the committed log there")
            }
            for c in packet.grabbers {
                let client = clients[c]
                let amounts = client.answers.compactMap { reply -> (UInt64, Int64?)? in
                    if case .logged(let seq, let amount, _) = reply { return (seq, amount) }
                    return nil
                }
                guard let first = amounts.first else { continue }
                let user = client.actor.user
                if amounts.contains(where: { $0 != first }) {
                    fail("\(user) was told \(amounts.map { "\($0.1 ?? -1) (seq \($0.0))" }) for \(packet.id)")
                }
                guard let grab = ledger.packets[packet.id]?.grabs[user] else {
                    fail("\(user) was told \(first.1 ?? -1) for \(packet.id), which the committed log does not hold")
                    continue
                }
                if grab.amount != first.1 || grab.seq != first.0 {
                    fail(
                        "\(user) was told \(first.1 ?? -1) (seq \(first.0)), the log gave \(grab.amount) (seq \(grab.seq))"
                    )
                }
            }
        }
        if let end = endClient, case .logged? = clients[end].answer {
            if !ledger.ended { fail("the end was acknowledged but the committed log does not end") }
        }
        if ledger.ended { stats.ended += 1 }
        if !ledger.openAtEnd.isEmpty {
            openAtEnd = "seed \(simulation.seed): the live ended with \(ledger.openAtEnd) open"
        }
        // 3: every node's committed prefix is the committed log; members hold all of it, and
        // their shells' state is the one the log builds.
        let committedLog = simulation.checker.committedLog
        var replayed = LiveSessionState(id: RedPacketShell.sessionID, group: RedPacketShell.group, epoch: 1)
        for event in events { try? replayed.apply(event) }
        let members = simulation.currentPrimary().map { simulation.nodes[$0].replica!.members } ?? []
        for i in simulation.nodes.indices {
            guard let replica = simulation.nodes[i].replica, let shell = shells[i] else { continue }
            let prefix = Int(min(replica.commitSeq, UInt64(committedLog.count)))
            let log = simulation.checker.mirrors[i]
            if replica.commitSeq > UInt64(committedLog.count)
                || Array(log.prefix(prefix)) != Array(committedLog.prefix(prefix))
            {
                fail("n\(i)'s committed log (\(replica.commitSeq)) is not a prefix of the committed log")
            }
            guard members.contains(simulation.nodes[i].id) else { continue }
            if shell.events != events {
                fail("n\(i)'s shell holds \(shell.events.count) events, the log \(events.count)")
            }
            var state = shell.state
            state.viewers = replayed.viewers
            if state != replayed { fail("n\(i)'s session state differs from the committed log's") }
        }
        stats.seeds += 1
        return violations
    }
}

extension RedPacketChaos.Kind {
    var isSend: Bool {
        if case .send = self { return true }
        return false
    }
}

extension LiveCommand {
    /// The packet a grab is for.
    var grabbedPacket: String? {
        if case .grab(let id) = self { return id }
        return nil
    }
}
