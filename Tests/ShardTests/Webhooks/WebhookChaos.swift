import Live
import Shard
import SimulationSupport

/// Webhooks under the replication chaos simulation: the live of `RedPacketChaos` (recorded,
/// with tips and comments added, ended during the chaos or after it) runs on whichever node is
/// primary, and every node keeps a `WebhookShell` beside its session shell, as `SessionHost`
/// keeps its outbox: committed events feed it in log order, cursor records move it on as they
/// enter the log. Only the primary sends: per destination one delivery at a time, in index order,
/// from `outbox.next(for:from: sent)`; a 2xx moves `sent` on and proposes a cursor record (not
/// waited for); a refusal, a lost request or answer, or a timeout is retried after
/// `WebhookBackoff`. A new primary starts again at its cursors.
///
/// Receivers (two destinations) sit outside the cluster: requests and answers cross the
/// simulation's lossy network, take 0.3–2 ms (5% up to 30 ms more, past the timeout), and each
/// receiver refuses some deliveries and has an outage, until the faults quiesce. Some seeds kill
/// the primary right after it sends.
///
/// Checked, per seed (`check`), against the webhooks derived again from the committed log: every
/// one reached every destination; no id came with two bodies (nor with another than the committed
/// event renders); first receipts follow the log's order; nothing else arrived. The red-packet
/// checks of the live run too.
final class WebhookChaos: ReplicationWorkload {
    /// A broken sender the checks must catch (`WebhookChaosTests`).
    enum Mutant {
        /// Proposes the cursor past an entry when it sends it, before the receiver acknowledged.
        case cursorBeforeAck
    }

    enum Action {
        /// The primary's dispatcher looks for work (after commits, on becoming primary).
        case pump(node: Int, shell: ObjectIdentifier)
        case arrive(delivery: Int)
        case answer(delivery: Int, accepted: Bool)
        case timeout(delivery: Int)
        case retry(node: Int, shell: ObjectIdentifier, lane: Int)
        case kill
    }

    struct Delivery {
        let node: Int
        let shell: ObjectIdentifier
        let lane: Int
        let index: UInt64
        let id: String
        let body: String
    }

    /// What the runs did, counted.
    enum Count: String, CaseIterable {
        case seeds
        case webhooks = "webhooks owed per destination"
        case deliveries
        case receipts = "accepted"
        case duplicates = "accepted again"
        case refusals = "refused"
        case lost = "requests or answers lost"
        case timeouts
        case lateAnswers = "late answers"
        case cursors = "cursor records"
        case takeovers = "primaries took over a backlog"
        case kills = "primaries killed after a send"
        case replays = "replay.ready owed"
        case endedInChaos = "lives ended during the chaos"
    }

    struct Stats: CustomStringConvertible {
        private var values = [Int](repeating: 0, count: Count.allCases.count)

        subscript(_ count: Count) -> Int {
            get { values[Count.allCases.firstIndex(of: count)!] }
            set { values[Count.allCases.firstIndex(of: count)!] = newValue }
        }

        static func + (a: Stats, b: Stats) -> Stats {
            var s = a
            s.values = zip(a.values, b.values).map(+)
            return s
        }

        var description: String {
            zip(Count.allCases, values).map { "\($1) \($0.rawValue)" }.joined(separator: ", ")
        }
    }

    unowned let simulation: ReplicationSimulation
    let live: RedPacketChaos
    let mutant: Mutant?
    static let destinationURLs = ["https://a.example/hooks", "https://b.example/hooks"]
    let destinations = WebhookChaos.destinationURLs.map(WebhookDestination.key)
    /// The simulation's scale: 2 ms first retry, 40 ms at most.
    let backoff = WebhookBackoff(baseMillis: 2, capMillis: 40)
    static let timeout: ReplicationDuration = .milliseconds(20)
    private(set) var shells: [WebhookShell?]
    private(set) var receivers: [WebhookReceiver]
    private var deliveries: [Delivery] = []
    private var actions = WorkloadActions<Action>(layer: 1)
    private(set) var stats = Stats()
    /// Receivers refuse (a share of deliveries, and everything during their outage) until then.
    let faultsUntil: ReplicationTime
    private let refusal: Double
    private let outages: [Range<ReplicationTime>]
    /// Kills of the primary just after it sends, left to make.
    private var killsLeft: Int

    /// `RedPacketChaos`' options; a live ended during the chaos may have written all it will
    /// before healing.
    static var simulationOptions: ReplicationSimulation.Options {
        var options = RedPacketChaos.simulationOptions
        options.writesAfterHeal = false
        return options
    }

    /// The live, the receivers and the faults from the simulation's generator; attaches to it.
    init(simulation: ReplicationSimulation, mutant: Mutant? = nil) {
        self.simulation = simulation
        self.mutant = mutant
        live = RedPacketChaos(
            simulation: simulation,
            plan: RedPacketChaos.Plan(record: true, endAfterChaos: -150...150, maxUsers: 12)
        )
        let chaos = simulation.options.chaos
        faultsUntil = .zero + chaos
        refusal = 0.05 + simulation.random.nextUnit() * 0.25
        outages = WebhookChaos.destinationURLs.map { _ in
            let start = ReplicationTime.zero + .milliseconds(simulation.random.next() % 280)
            return start..<(start + .milliseconds(10 + simulation.random.next() % 60))
        }
        killsLeft = Int(simulation.random.next() % 3)
        receivers = WebhookChaos.destinationURLs.map(WebhookReceiver.init(name:))
        shells = []
        shells = simulation.nodes.indices.map { i in simulation.nodes[i].replica.map { _ in freshShell(i) } }
        simulation.workload = self
        // Tips (webhooks) and comments (none) until around the end.
        let window = chaos.nanoseconds / 1_000_000 + 150
        for t in 0..<(2 + Int(simulation.random.next() % 5)) {
            live.addWrite(
                .tip(amount: 1 + Int64(simulation.random.next() % 5_000), currency: "CNY", clientID: "tip\(t)"),
                by: LiveActor(user: "t\(t)", name: "Tipper \(t)", role: .member),
                at: .zero + .milliseconds(5 + simulation.random.next() % window)
            )
        }
        for c in 0..<(2 + Int(simulation.random.next() % 5)) {
            live.addWrite(
                .comment(text: "comment \(c)", clientID: "c\(c)"),
                by: LiveActor(user: "c\(c)", name: "Commenter \(c)", role: .member),
                at: .zero + .milliseconds(5 + simulation.random.next() % window)
            )
        }
    }

    private func freshShell(_ i: Int) -> WebhookShell {
        let replica = simulation.nodes[i].replica!
        return WebhookShell(
            destinations: destinations,
            log: replica.entries,
            session: live.shells[i]!,
            commitSeq: replica.commitSeq
        )
    }

    // MARK: Events

    private func schedule(_ action: Action, at time: ReplicationTime) {
        simulation.schedule(actions.add(action), at: time)
    }

    func fire(_ token: UInt64) {
        guard actions.owns(token) else { return live.fire(token) }
        guard let action = actions.take(token) else { return }
        switch action {
        case .pump(let i, let shell):
            if current(i, shell) != nil { pump(i) }
        case .arrive(let k): arrive(k)
        case .answer(let k, let accepted): answered(k, accepted: accepted)
        case .timeout(let k):
            guard let found = inFlight(k) else { return }
            stats[.timeouts] += 1
            found.shell.lanes[found.lane].inFlight = nil
            failed(deliveries[k].node, found.lane)
        case .retry(let i, let shell, let lane):
            guard let shell = current(i, shell) else { return }
            shell.lanes[lane].waiting = false
            pump(i)
        case .kill:
            guard simulation.nodes.filter({ !$0.alive }).count < 2, let p = simulation.currentPrimary() else { return }
            stats[.kills] += 1
            simulation.log("webhooks: kill primary n\(p) after a send")
            simulation.kill(p)
        }
    }

    /// Node i's webhook shell, if it is still the one `shell` names (not a later process's).
    private func current(_ i: Int, _ shell: ObjectIdentifier) -> WebhookShell? {
        guard let current = shells[i], ObjectIdentifier(current) == shell else { return nil }
        return current
    }

    /// The shell and lane delivery k is still in flight on.
    private func inFlight(_ k: Int) -> (shell: WebhookShell, lane: Int)? {
        let delivery = deliveries[k]
        guard let shell = current(delivery.node, delivery.shell), shell.lanes[delivery.lane].inFlight == k else {
            return nil
        }
        return (shell, delivery.lane)
    }

    /// 0.3–2 ms, and 5% of messages up to 30 ms more: a request or answer on the way.
    private func receiverDelay() -> ReplicationDuration {
        var delay = 300_000 + simulation.random.next() % 1_700_000
        if simulation.random.nextUnit() < 0.05 { delay += simulation.random.next() % 30_000_000 }
        return ReplicationDuration(nanoseconds: delay)
    }

    private func lost() -> Bool { simulation.random.nextUnit() < simulation.loss }

    // MARK: The primary's dispatcher

    private func isPrimary(_ i: Int) -> Bool {
        simulation.nodes[i].replica?.role == .primary && !simulation.nodes[i].diskPoisoned
    }

    /// Every idle lane of primary i sends its next entry (`SessionHost.nextWebhook`).
    private func pump(_ i: Int) {
        guard isPrimary(i), let shell = shells[i], let session = live.shells[i] else { return }
        for lane in shell.lanes.indices where shell.lanes[lane].inFlight == nil && !shell.lanes[lane].waiting {
            guard let entry = shell.outbox.next(for: destinations[lane], from: shell.lanes[lane].sent),
                entry.eventSeq >= 1, Int(entry.eventSeq) <= session.events.count
            else { continue }
            let event = session.events[Int(entry.eventSeq) - 1]
            let k = deliveries.count
            deliveries.append(
                Delivery(
                    node: i,
                    shell: ObjectIdentifier(shell),
                    lane: lane,
                    index: entry.index,
                    id: WebhookBody.id(entry, session: RedPacketShell.sessionID),
                    body: WebhookBody.render(
                        entry,
                        event: event,
                        group: RedPacketShell.group,
                        session: RedPacketShell.sessionID
                    )
                )
            )
            shell.lanes[lane].inFlight = k
            stats[.deliveries] += 1
            simulation.trace.record(50, UInt64(i), UInt64(lane), entry.index)
            if mutant == .cursorBeforeAck { proposeCursor(i, lane: lane, next: entry.index + 1) }
            schedule(.timeout(delivery: k), at: simulation.now + Self.timeout)
            if killsLeft > 0, simulation.now < faultsUntil, simulation.random.nextUnit() < 0.1 {
                killsLeft -= 1
                schedule(
                    .kill,
                    at: simulation.now + ReplicationDuration(nanoseconds: simulation.random.next() % 2_000_000)
                )
            }
            if lost() {
                stats[.lost] += 1
                continue
            }
            schedule(.arrive(delivery: k), at: simulation.now + receiverDelay())
        }
    }

    /// Delivery k reaches its receiver, which accepts or refuses it; the answer may be lost.
    private func arrive(_ k: Int) {
        let delivery = deliveries[k]
        let refused =
            simulation.now < faultsUntil
            && (outages[delivery.lane].contains(simulation.now) || simulation.random.nextUnit() < refusal)
        if refused {
            stats[.refusals] += 1
        } else {
            receivers[delivery.lane].accept(id: delivery.id, body: delivery.body)
        }
        simulation.trace.record(51, UInt64(k), refused ? 1 : 0)
        if lost() {
            stats[.lost] += 1
            return
        }
        schedule(.answer(delivery: k, accepted: !refused), at: simulation.now + receiverDelay())
    }

    private func answered(_ k: Int, accepted: Bool) {
        guard let found = inFlight(k) else {
            stats[.lateAnswers] += 1
            return
        }
        let (shell, lane) = found
        let i = deliveries[k].node
        shell.lanes[lane].inFlight = nil
        guard accepted else { return failed(i, lane) }
        shell.lanes[lane].failures = 0
        // `SessionHost.webhookDone`: only while primary.
        if isPrimary(i) {
            shell.lanes[lane].sent = max(shell.lanes[lane].sent, deliveries[k].index + 1)
            if mutant == nil { proposeCursor(i, lane: lane, next: deliveries[k].index + 1) }
        }
        pump(i)
    }

    /// A failed attempt: the lane waits its backoff, then tries again.
    private func failed(_ i: Int, _ lane: Int) {
        let shell = shells[i]!
        shell.lanes[lane].failures += 1
        shell.lanes[lane].waiting = true
        let wait = backoff.delayMillis(afterFailures: shell.lanes[lane].failures, random: simulation.random.nextUnit())
        schedule(
            .retry(node: i, shell: ObjectIdentifier(shell), lane: lane),
            at: simulation.now + .milliseconds(UInt64(wait))
        )
    }

    /// The cursor record into the log, not waited for.
    private func proposeCursor(_ i: Int, lane: Int, next: UInt64) {
        let record = WebhookCursorRecord.encode(destination: destinations[lane], next: next)
        if case .success = simulation.proposeWrite(record, at: i, accepted: { _ in }) { stats[.cursors] += 1 }
    }

    private func pumpSoon(_ i: Int) {
        guard let shell = shells[i] else { return }
        schedule(.pump(node: i, shell: ObjectIdentifier(shell)), at: simulation.now)
    }

    // MARK: ReplicationWorkload

    func logChanged(node i: Int, entries: [ReplicationEntry], truncateAfter: UInt64?) {
        live.logChanged(node: i, entries: entries, truncateAfter: truncateAfter)
        guard let shell = shells[i], let session = live.shells[i] else { return }
        if shell.fed > session.events.count {
            simulation.checker.fail("n\(i) truncated events its outbox took as committed")
        }
        if let failure = shell.apply(entries) { simulation.checker.fail("n\(i): \(failure)") }
    }

    func snapshotInstalled(node i: Int) { live.snapshotInstalled(node: i) }

    func committed(node i: Int, upTo: UInt64) {
        live.committed(node: i, upTo: upTo)
        guard let shell = shells[i], let session = live.shells[i] else { return }
        if shell.committed(upTo: upTo, session: session) > 0, isPrimary(i) { pumpSoon(i) }
    }

    func steppedDown(node i: Int) { live.steppedDown(node: i) }

    func becamePrimary(node i: Int) {
        guard let shell = shells[i] else { return }
        shell.becamePrimary()
        if shell.outbox.pending, stats[.deliveries] > 0 { stats[.takeovers] += 1 }
        pumpSoon(i)
    }

    func killed(node i: Int) {
        live.killed(node: i)
        shells[i] = nil
    }

    func restarted(node i: Int) {
        live.restarted(node: i)
        shells[i] = freshShell(i)
    }

    /// Done once the primary owes nothing (the replica set settled: it knows every commit).
    var quiescent: Bool {
        guard let p = simulation.currentPrimary(), let shell = shells[p] else { return false }
        return !shell.outbox.pending
    }

    // MARK: Checks

    /// The webhooks the committed log causes, derived again from its events: ids and bodies.
    static func expected(_ events: [LiveEvent]) -> [(id: String, body: String)] {
        var out: [(id: String, body: String)] = []
        for event in events {
            for kind in WebhookKind.caused(by: event) {
                let entry = WebhookOutbox.Entry(index: UInt64(out.count), kind: kind, eventSeq: event.seq)
                out.append(
                    (
                        WebhookBody.id(entry, session: RedPacketShell.sessionID),
                        WebhookBody.render(
                            entry,
                            event: event,
                            group: RedPacketShell.group,
                            session: RedPacketShell.sessionID
                        )
                    )
                )
            }
        }
        return out
    }

    /// The per-seed checks after a run the replication checker passed; the violations.
    func check() -> [String] {
        var violations = live.check()
        let (events, failure) = live.committedEvents()
        guard failure == nil else { return violations }
        let expected = Self.expected(events)
        for receiver in receivers {
            for violation in receiver.violations(expected: expected).prefix(4) {
                violations.append("seed \(simulation.seed): \(violation)")
            }
            stats[.receipts] += receiver.receipts
            stats[.duplicates] += receiver.receipts - receiver.firstOrder.count
        }
        stats[.webhooks] += expected.count
        if expected.contains(where: { $0.id.hasSuffix("-replay") }) { stats[.replays] += 1 }
        if let end = events.last(where: { $0.type == .ended }),
            end.at - RedPacketChaos.epochMillis < Int64(simulation.options.chaos.nanoseconds / 1_000_000)
        {
            stats[.endedInChaos] += 1
        }
        stats[.seeds] += 1
        return violations
    }
}
