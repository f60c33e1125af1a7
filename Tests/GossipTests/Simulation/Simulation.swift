import Gossip
import SimulationSupport

/// A deterministic simulation of many `GossipInstance`s on a virtual clock.
///
/// One `GossipRandom` drives everything (per-node generators are split from it, link jitter and
/// loss are drawn from it), events are ordered by (time, insertion), and nothing iterates a hashed
/// collection, so the same seed always produces the same trace (`trace`). Written without any
/// dependency on the test framework so it can move to a shared test-support module.
final class Simulation {
    /// One simulated process. While an event runs, its instance is moved out of `nodes` with
    /// `take()` and put back afterwards: the running copy is then the only reference to its member
    /// tables, so mutating them is in place. Copying it out instead made every tick and message
    /// copy the whole table (O(n) per event), which is what made 1,000 nodes too slow to simulate.
    struct Node {
        var id: MemberID
        var address: String
        var zone: Int
        var generation: UInt64 = 1
        var instance: GossipInstance?
        var running: Bool { instance != nil }
    }

    enum Event {
        case deliver(GossipMessage, from: Int, to: Int)
        case sendFailed(address: String, node: Int, generation: UInt64)
        case connectionLost(address: String, node: Int, generation: UInt64)
    }

    /// A change reported by an instance, as seen by `observer`.
    struct Change {
        var time: GossipTime
        var observer: Int
        var member: Member
        var previous: MemberStatus?
    }

    let seed: UInt64
    var settings: GossipSettings
    private(set) var now: GossipTime = .zero
    private(set) var nodes: [Node] = []
    private var indexByAddress: [String: Int] = [:]
    private var random: GossipRandom
    private var queue = EventQueue<Event>()
    private var nextTick: GossipTime = .zero
    let tickInterval: GossipDuration

    /// Probability that any message is lost.
    var loss: Double = 0
    /// Jitter as a fraction of the link delay (uniform in ±jitter).
    var jitter: Double = 0.2
    /// One-way delay in seconds between two nodes' zones.
    var linkDelay: (_ fromZone: Int, _ toZone: Int) -> Double = { _, _ in 0.0005 }
    /// Partition group per node; messages between different groups are dropped. Nil: no partition.
    private var groups: [Int]?
    /// Addresses new instances use as seeds.
    var seedAddresses: [String] = []

    private(set) var trace = TraceHash()
    var recordChanges = false
    private(set) var changes: [Change] = []
    private(set) var delivered = 0
    /// Ticks that sent or changed something before the node's `nextTickAt` (must stay empty).
    private(set) var earlyWork: [String] = []
    /// Called for every membership change as it happens; for measurements that would hold too
    /// many changes in `changes` (every observer of a 1,000-node cluster reports each one).
    var onChange: ((Change) -> Void)?
    /// Called for every message an instance sends, with the sender, the receiver's index and what
    /// became of it; for counting messages and bytes.
    var onTransmit: ((_ message: GossipMessage, _ from: Int, _ to: Int, _ fate: Fate) -> Void)?

    /// What the network did with a message.
    enum Fate {
        /// Queued for delivery after the link delay.
        case delivered
        /// Sent, but dropped by random loss or a partition.
        case lost
        /// Not sent: the receiver's process is down, so the connection was refused.
        case refused
    }

    init(seed: UInt64, nodeCount: Int, settings: GossipSettings = GossipSettings(), zones: (Int) -> Int = { _ in 0 }) {
        self.seed = seed
        self.settings = settings
        self.random = GossipRandom(seed: seed)
        self.tickInterval = .milliseconds(20)
        for i in 0..<nodeCount {
            let address = "sim://n\(i)"
            nodes.append(Node(id: MemberID("n\(i)"), address: address, zone: zones(i)))
            indexByAddress[address] = i
        }
        seedAddresses = nodes.isEmpty ? [] : [nodes[0].address]
    }

    /// An independent copy of this simulation from now on: same nodes, instances, clock and
    /// pending events, but its own random stream (link jitter and loss) drawn from `seed`, so one
    /// converged cluster can be the starting point of many runs. Observers are not copied.
    func fork(seed: UInt64) -> Simulation {
        let copy = Simulation(seed: seed, nodeCount: 0, settings: settings)
        copy.now = now
        copy.nodes = nodes
        copy.indexByAddress = indexByAddress
        copy.queue = queue
        copy.nextTick = nextTick
        copy.loss = loss
        copy.jitter = jitter
        copy.linkDelay = linkDelay
        copy.groups = groups
        copy.seedAddresses = seedAddresses
        copy.trace = trace
        copy.trace.record(15, seed)
        return copy
    }

    // MARK: Control

    func start(_ i: Int) {
        let node = nodes[i]
        let member = Member(id: node.id, address: node.address, zone: "z\(node.zone)", generation: node.generation)
        nodes[i].instance = GossipInstance(
            myself: member,
            seeds: seedAddresses,
            settings: settings,
            random: random.split(),
            now: now
        )
        trace.record(8, UInt64(i), node.generation)
    }

    func startAll() {
        for i in nodes.indices { start(i) }
    }

    /// The process stops: it neither sends nor receives; peers' sends to it fail.
    func kill(_ i: Int, resetConnections: Bool = false) {
        nodes[i].instance = nil
        trace.record(9, UInt64(i))
        // A killed process's sockets are reset by the kernel: every peer holding a connection
        // to it sees the connection drop one link delay later (the shell reports that).
        guard resetConnections else { return }
        for j in nodes.indices where j != i && nodes[j].running {
            if let groups, groups[i] != groups[j] { continue }
            queue.push(
                .connectionLost(address: nodes[i].address, node: j, generation: nodes[j].generation),
                at: now + .seconds(linkDelay(nodes[i].zone, nodes[j].zone))
            )
        }
    }

    /// Same id and address, new generation, fresh instance.
    func restart(_ i: Int) {
        nodes[i].generation += 1
        start(i)
    }

    func partition(_ partitionGroups: [[Int]]) {
        var assignment = Array(repeating: -1, count: nodes.count)
        for (group, members) in partitionGroups.enumerated() {
            for i in members { assignment[i] = group }
        }
        groups = assignment
        trace.record(10, UInt64(partitionGroups.count))
    }

    func heal() {
        groups = nil
        trace.record(11)
    }

    func leave(_ i: Int) {
        guard var instance = nodes[i].instance.take() else { return }
        let directives = instance.leave(now: now)
        nodes[i].instance = instance
        execute(directives, from: i)
    }

    /// Hands `message` to node `i` as if it came from `address`, now.
    func inject(_ message: GossipMessage, to i: Int, from address: String) {
        guard var instance = nodes[i].instance.take() else { return }
        let directives = instance.receive(message, from: address, now: now)
        nodes[i].instance = instance
        execute(directives, from: i)
    }

    func setLoad(_ i: Int, _ load: MemberLoad) {
        nodes[i].instance?.setLoad(load)
    }

    // MARK: Running

    /// Runs `seconds` of virtual time.
    func run(for seconds: Double) {
        let end = now + .seconds(seconds)
        while now < end { step(until: end) }
    }

    /// Runs until `condition` holds (checked every `checkEvery` seconds) or `seconds` pass; returns
    /// the virtual time it took, or nil.
    @discardableResult
    func run(for seconds: Double, checkEvery: Double = 0.1, until condition: (Simulation) -> Bool) -> Double? {
        let start = now
        let end = now + .seconds(seconds)
        if condition(self) { return 0 }
        while now < end {
            let checkpoint = min(now + .seconds(checkEvery), end)
            while now < checkpoint { step(until: checkpoint) }
            if condition(self) { return (now - start).seconds }
        }
        return nil
    }

    /// Processes events up to the next tick (or `end`), then ticks every running node.
    private func step(until end: GossipTime) {
        let horizon = min(nextTick, end)
        while let time = queue.nextTime, time <= horizon {
            let (at, event) = queue.pop()!
            now = at
            handle(event)
        }
        now = horizon
        if now >= nextTick {
            nextTick = now + tickInterval
            for i in nodes.indices {
                guard var instance = nodes[i].instance.take() else { continue }
                let due = instance.nextTickAt
                let directives = instance.tick(now: now)
                // The shell sleeps until `nextTickAt`: a tick before it must find nothing to do.
                if !directives.isEmpty, due.map({ now < $0 }) ?? true {
                    earlyWork.append("n\(i) at \(now.nanoseconds) ns, due \(String(describing: due?.nanoseconds))")
                }
                nodes[i].instance = instance
                execute(directives, from: i)
            }
        }
    }

    private func handle(_ event: Event) {
        switch event {
        case .deliver(let message, let from, let to):
            guard var instance = nodes[to].instance.take() else { return }
            delivered += 1
            let (tag, seq) = message.kind.traceWords
            trace.record(now.nanoseconds, UInt64(from), UInt64(to), tag, seq, UInt64(message.updates.count))
            let directives = instance.receive(message, from: nodes[from].address, now: now)
            nodes[to].instance = instance
            execute(directives, from: to)
        case .sendFailed(let address, let node, let generation):
            guard nodes[node].generation == generation, var instance = nodes[node].instance.take() else { return }
            trace.record(now.nanoseconds, 12, UInt64(node))
            let directives = instance.sendFailed(to: address, now: now)
            nodes[node].instance = instance
            execute(directives, from: node)
        case .connectionLost(let address, let node, let generation):
            guard nodes[node].generation == generation, var instance = nodes[node].instance.take() else { return }
            trace.record(now.nanoseconds, 14, UInt64(node))
            let directives = instance.connectionLost(to: address, now: now)
            nodes[node].instance = instance
            execute(directives, from: node)
        }
    }

    private func execute(_ directives: [GossipDirective], from i: Int) {
        for directive in directives {
            switch directive {
            case .send(let message, let address):
                transmit(message, from: i, to: address)
            case .memberChanged(let member, let previous):
                trace.record(now.nanoseconds, 13, UInt64(i), UInt64(member.status.hashValueStable), member.incarnation)
                trace.mix(member.id.rawValue)
                if recordChanges {
                    changes.append(Change(time: now, observer: i, member: member, previous: previous))
                }
                onChange?(Change(time: now, observer: i, member: member, previous: previous))
            }
        }
    }

    private func transmit(_ message: GossipMessage, from i: Int, to address: String) {
        guard let j = indexByAddress[address], j != i else { return }
        let delay = linkDelay(nodes[i].zone, nodes[j].zone)
        let jittered = max(0, delay * (1 + jitter * (2 * random.nextUnit() - 1)))
        if !nodes[j].running {
            onTransmit?(message, i, j, .refused)
            // A dead process: the connection is refused, which the shell reports.
            queue.push(
                .sendFailed(address: address, node: i, generation: nodes[i].generation),
                at: now + .seconds(2 * jittered)
            )
            return
        }
        if let groups, groups[i] != groups[j] {
            onTransmit?(message, i, j, .lost)
            return
        }
        if loss > 0 && random.nextUnit() < loss {
            onTransmit?(message, i, j, .lost)
            return
        }
        onTransmit?(message, i, j, .delivered)
        queue.push(.deliver(message, from: i, to: j), at: now + .seconds(jittered))
    }

    // MARK: Observation

    var runningIndices: [Int] { nodes.indices.filter { nodes[$0].running } }

    func view(of i: Int, about j: Int) -> Member? {
        nodes[i].instance?.member(nodes[j].id)
    }

    /// Every running node in `observers` lists exactly `expected` as alive, at their current
    /// generation.
    func allAlive(_ expected: [Int], observers: [Int]? = nil) -> Bool {
        for i in observers ?? runningIndices {
            guard let instance = nodes[i].instance else { continue }
            for j in expected {
                guard let member = instance.member(nodes[j].id), member.status == .alive,
                    member.generation == nodes[j].generation
                else { return false }
            }
            let aliveCount = instance.members.reduce(0) { $0 + ($1.status == .alive ? 1 : 0) }
            if aliveCount != expected.count { return false }
        }
        return true
    }

    /// Every running node other than `j` lists `j` with `status`.
    func allSee(_ j: Int, as status: MemberStatus) -> Bool {
        for i in runningIndices where i != j {
            guard nodes[i].instance?.member(nodes[j].id)?.status == status else { return false }
        }
        return true
    }

    /// Sum of a statistic over running nodes.
    func total(_ stat: (GossipStats) -> Int) -> Int {
        nodes.reduce(0) { $0 + ($1.instance.map { stat($0.stats) } ?? 0) }
    }
}

extension MemberStatus {
    /// A stable number for tracing (Swift's `hashValue` is seeded per process).
    var hashValueStable: Int {
        switch self {
        case .alive: 0
        case .suspect: 1
        case .dead: 2
        case .left: 3
        }
    }
}

extension GossipMessage.Kind {
    /// A small tag and the sequence number, for tracing.
    var traceWords: (UInt64, UInt64) {
        switch self {
        case .ping(let seq, _, _): (1, seq)
        case .ack(let seq, _, _, _): (2, seq)
        case .pingReq(let seq, _): (3, seq)
        case .nack(let seq, _): (4, seq)
        case .pushPull(let members, let isResponse): (isResponse ? 6 : 5, UInt64(members.count))
        case .leave: (7, 0)
        case .gossip: (8, 0)
        }
    }
}
