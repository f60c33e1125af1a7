import CoreMetrics
import Foundation
import Gossip
import Live
import Logging
import ServiceLifecycle
import Shard
import Synchronization

/// Every session this node holds as a replica (primary or not), the live one of each group, and
/// the ended ones kept for replay: creation, restore from disk, replication timers, reaction to
/// membership changes (failover, replica replacement) and drain.
public final class LiveSessions: Service, Sendable {
    /// Replication timing of the shell; the protocol's own timers are in `ReplicationSettings`.
    public struct Settings: Sendable {
        /// How often every session's replication core is ticked. Default 10 ms: a fifth of the
        /// 50 ms heartbeat, so timers fire close to their deadline at negligible cost.
        public var tickInterval: Duration = .milliseconds(10)
        /// How often primaries check their replica sets against gossip. Default 500 ms.
        public var maintenanceInterval: Duration = .milliseconds(500)
        /// Target replica-set size, primary included (`--replicas`). Default 3.
        public var replicas: Int = 3
        /// How long a drain waits for primaries to hand over and replicas to be replaced before
        /// the node goes anyway. Default 20 s.
        public var drainDeadline: Duration = .seconds(20)
        public var protocolSettings = ReplicationSettings()
        public init() {}
    }

    let dataDir: String
    let nodeID: String
    private let settings: LiveSettings
    let shell: Settings
    private let logger: Logger
    private let metrics: LiveMetrics
    let replicationMetrics: ReplicationMetrics
    let view: ClusterView
    let links: PeerLinks
    let state: NodeState
    private let start = ContinuousClock.now

    /// Every session held here, by session id.
    private let hosts = Mutex<[String: SessionHost]>([:])
    /// The live (not yet ended) session of each group, as far as this node knows.
    private let live = Mutex<[String: SessionHost]>([:])
    /// Ended sessions by group, oldest first.
    private let ended = Mutex<[String: [LiveSessionState]]>([:])
    /// Nodes that announced they are draining, with when we heard it.
    private let draining = Mutex<[String: ContinuousClock.Instant]>([:])
    private let drainingSelf = Atomic<Bool>(false)
    private let drainRequests = AsyncStream<Bool>.makeStream(bufferingPolicy: .bufferingNewest(4))
    /// Replicas whose lag gauge this node set last round.
    private let lagReported = Mutex<Set<String>>([])
    /// Groups with a start in progress here.
    private let starting = Mutex<Set<String>>([])

    init(
        dataDir: String,
        nodeID: String,
        settings: LiveSettings,
        shell: Settings,
        view: ClusterView,
        links: PeerLinks,
        state: NodeState,
        metricsFactory: any MetricsFactory,
        replicationMetrics: ReplicationMetrics,
        logger: Logger
    ) {
        self.metrics = LiveMetrics(factory: metricsFactory)
        self.replicationMetrics = replicationMetrics
        self.dataDir = dataDir
        self.nodeID = nodeID
        self.settings = settings
        self.shell = shell
        self.view = view
        self.links = links
        self.state = state
        self.logger = logger
    }

    static func nowMillis() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    func directory(group: String, session: String) -> String { "\(dataDir)/groups/\(group)/\(session)" }

    /// The replication clock: nanoseconds since this process started.
    var replicationNow: ReplicationTime {
        ReplicationTime(nanoseconds: UInt64(max(0, (ContinuousClock.now - start).nanoseconds)))
    }

    func json(_ state: LiveSessionState, host: SessionHost? = nil) async -> SessionJSON {
        guard let host else { return SessionJSON(state, primary: nil, replicas: []) }
        return SessionJSON(
            state,
            primary: await host.primaryHint,
            replicas: await host.members,
            epoch: await host.epoch
        )
    }

    private func hooks(group: String, session: String) -> SessionHostHooks {
        SessionHostHooks(
            now: { [start] in ReplicationTime(nanoseconds: UInt64(max(0, (ContinuousClock.now - start).nanoseconds))) },
            ended: { [weak self] state in self?.sessionEnded(state) },
            roleChange: { [replicationMetrics] failover in
                replicationMetrics.epochChanges.increment()
                if failover { replicationMetrics.failovers.increment() }
            },
            replicaChange: { [replicationMetrics] in replicationMetrics.replicaChanges.increment() },
            confirmed: { [weak self] in self?.confirmedCopy(group: group, session: session) }
        )
    }

    private func makeHost(
        group: String,
        session: String,
        origin: SessionHost.Origin
    ) async throws(StorageError) -> SessionHost {
        let host = try SessionHost(
            group: group,
            session: session,
            nodeID: nodeID,
            origin: origin,
            directory: directory(group: group, session: session),
            settings: settings,
            replication: shell.protocolSettings,
            transport: links,
            hooks: hooks(group: group, session: session),
            now: replicationNow,
            metrics: metrics,
            logger: logger
        )
        try await host.activate()
        return host
    }

    // MARK: Lifecycle

    /// Loads every session under the data dir. Each rejoins its replica set as a replica and
    /// campaigns at once (its primary is unknown after a restart); events become visible again
    /// as soon as a primary commits, which re-establishes what was committed.
    public func restore() async throws {
        let groupsDir = dataDir + "/groups"
        let fm = FileManager.default
        try fm.createDirectory(atPath: groupsDir, withIntermediateDirectories: true)
        var restoredLive = 0
        var restoredEnded = 0
        for group in (try? fm.contentsOfDirectory(atPath: groupsDir)) ?? [] where GroupID(group) != nil {
            for session in (try? fm.contentsOfDirectory(atPath: "\(groupsDir)/\(group)")) ?? [] {
                let dir = directory(group: group, session: session)
                // A copy removed from its replica set is nobody's replica: not loaded.
                guard ReplicaStore.exists(in: dir), !ReplicaStore.isRemoved(in: dir) else { continue }
                let host = try await makeHost(group: group, session: session, origin: .restore)
                hosts.withLock { $0[session] = host }
                let state = await host.state
                switch state.phase {
                case .pending:
                    continue
                case .ended:
                    ended.withLock { $0[group, default: []].append(state) }
                    restoredEnded += 1
                case .live:
                    // Served (viewers, lookups) only once a primary confirms this copy: a node
                    // removed from the replica set while it was down must not serve a stale log.
                    restoredLive += 1
                }
            }
        }
        ended.withLock { all in
            for key in all.keys { all[key]?.sort { $0.info.startedAt < $1.info.startedAt } }
        }
        if restoredLive + restoredEnded > 0 {
            logger.info(
                "restored sessions",
                metadata: ["live.live": "\(restoredLive)", "live.ended": "\(restoredEnded)"]
            )
        }
    }

    public func run() async throws {
        for host in hosts.withLock({ Array($0.values) }) { await host.campaignSoon() }
        await withDiscardingTaskGroup { group in
            group.addTask { await self.replicationLoop() }
            group.addTask { await self.maintenanceLoop() }
            group.addTask {
                for await leave in self.drainRequests.stream {
                    await self.drain(deadline: self.shell.drainDeadline) { line in
                        self.logger.info("draining", metadata: ["drain.progress": "\(line)"])
                    }
                    if leave {
                        self.logger.notice("drained; leaving the cluster")
                        kill(getpid(), SIGTERM)
                    }
                }
            }
            await withGracefulShutdownHandler {
                while !Task.isShuttingDownGracefully && !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    await tick()
                }
            } onGracefulShutdown: {
            }
            // SIGTERM drains: hand primaries over before the node goes.
            await drain(deadline: shell.drainDeadline) { line in
                self.logger.info("draining", metadata: ["drain.progress": "\(line)"])
            }
            drainRequests.continuation.finish()
            group.cancelAll()
        }
    }

    private func replicationLoop() async {
        var lastVersion = -1
        while !Task.isCancelled {
            try? await Task.sleep(for: shell.tickInterval)
            let all = hosts.withLock { Array($0.values) }
            let snapshot = view.snapshot
            var lost: Set<String>? = nil
            if snapshot.version != lastVersion {
                lastVersion = snapshot.version
                lost = Set(snapshot.members.filter { $0.status != .alive }.map(\.id.rawValue))
            }
            for host in all {
                if let lost, !lost.isEmpty { await host.membersLost(lost) }
                await host.tickReplication()
            }
        }
    }

    private func maintenanceLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: shell.maintenanceInterval)
            await maintain()
        }
    }

    /// Primaries keep their replica sets whole; metrics of roles and lag.
    func maintain() async {
        let snapshot = view.snapshot
        let drainingNodes = drainingNodeIDs()
        let alive = snapshot.aliveIDs.subtracting(drainingNodes)
        // A suspect member keeps its place (a brief false suspicion must not move replicas);
        // dead, left and draining members are replaced.
        let present = Set(snapshot.members.filter { $0.status == .alive || $0.status == .suspect }.map(\.id.rawValue))
            .subtracting(drainingNodes)
        var primaries = 0
        var replicas = 0
        var worstLag: [String: UInt64] = [:]
        for host in hosts.withLock({ Array($0.values) }) {
            let summary = await host.summary
            if summary.phase == .ended { continue }
            if summary.role == .primary {
                primaries += 1
                for (node, lag) in summary.lag { worstLag[node] = max(worstLag[node] ?? 0, lag) }
                let preference = preferenceList(group: summary.group, snapshot: snapshot)
                let target = min(shell.replicas, max(1, alive.count + (alive.contains(nodeID) ? 0 : 1)))
                await host.maintainMembers(
                    present: present.union([nodeID]),
                    // Newcomers must be alive; placement (where replicas belong) counts suspects
                    // too, so a brief suspicion moves nothing.
                    candidates: preference.filter { alive.contains($0) },
                    placement: preference.filter { present.contains($0) || $0 == nodeID },
                    target: target
                )
            } else {
                replicas += 1
            }
        }
        replicationMetrics.primaries.set(primaries)
        replicationMetrics.replicas.set(replicas)
        // Replicas no longer led from here report 0, not their last lag forever.
        let reported = lagReported.withLock { reported in
            defer { reported = Set(worstLag.keys) }
            return reported
        }
        for node in reported.subtracting(worstLag.keys) { replicationMetrics.lag(0, replica: node) }
        for (node, lag) in worstLag { replicationMetrics.lag(lag, replica: node) }
        for (node, bytes) in links.queuedBytes() { replicationMetrics.queued(bytes, peer: node) }
    }

    /// Stats, pings, and the end of sessions whose ingest stayed away past the grace period.
    func tick() async {
        let hosts = live.withLock { Array($0.values) }
        for host in hosts {
            await host.tick()
            if await host.role == .primary, await host.ingestGraceExpired(settings.ingestGrace) {
                let info = await host.info
                logger.info(
                    "ending session: no ingest within the grace period",
                    metadata: ["live.group": "\(info.group)"]
                )
                _ = try? await host.write(.end, by: LiveActor(user: info.host, role: .owner), now: Self.nowMillis())
            }
        }
    }

    // MARK: Placement

    /// The group's preference list over the current ring: every placed node, best first.
    func preferenceList(group: String, snapshot: ClusterView.Snapshot? = nil) -> [String] {
        let snapshot = snapshot ?? view.snapshot
        return snapshot.ring.preferenceList(for: group, count: snapshot.members.count)
    }

    func drainingNodeIDs() -> Set<String> {
        let cutoff = ContinuousClock.now - .seconds(120)
        var ids = draining.withLock { d -> Set<String> in
            d = d.filter { $0.value > cutoff }
            return Set(d.keys)
        }
        if drainingSelf.load(ordering: .relaxed) { ids.insert(nodeID) }
        return ids
    }

    var isDraining: Bool { drainingSelf.load(ordering: .relaxed) }

    // MARK: Operations

    /// The live session of `group` held here, if any.
    func host(group: String) -> SessionHost? { live.withLock { $0[group] } }

    func host(session: String) -> SessionHost? { hosts.withLock { $0[session] } }

    /// Any copy of a live session of `group` held here, served or not (a copy restored from
    /// disk awaits its primary's confirmation): proof the session exists while its primary is
    /// unknown.
    func anyLiveCopy(group: String) async -> SessionHost? {
        if let served = host(group: group) { return served }
        for host in allHosts where host.group == group {
            if await host.state.phase == .live { return host }
        }
        return nil
    }

    var allHosts: [SessionHost] { hosts.withLock { Array($0.values) } }

    enum StartOutcome {
        case started(LiveSessionState, SessionHost)
        case alreadyLive(SessionHost)
    }

    /// Starts a session here as primary of epoch 1 with `members` (this node first).
    func start(
        group: String,
        actor: LiveActor,
        title: String,
        record: Bool,
        members: [String]
    ) async throws -> StartOutcome {
        if let existing = host(group: group) { return .alreadyLive(existing) }
        // Reserve the group before the first await, so two concurrent starts cannot both win.
        guard starting.withLock({ $0.insert(group).inserted }) else { throw LiveError.conflict }
        defer { starting.withLock { _ = $0.remove(group) } }
        let id = Self.newSessionID()
        let fresh = try await makeHost(group: group, session: id, origin: .bootstrap(members: members))
        live.withLock { $0[group] = fresh }
        hosts.withLock { $0[id] = fresh }
        metrics.sessions.increment()
        do {
            _ = try await fresh.write(.start(title: title, record: record), by: actor, now: Self.nowMillis())
        } catch {
            live.withLock { hosts in
                if hosts[group] === fresh { hosts[group] = nil }
            }
            hosts.withLock { $0[id] = nil }
            metrics.sessions.decrement()
            await fresh.discard()
            throw error
        }
        logger.info(
            "session started",
            metadata: [
                "live.group": "\(group)", "live.session": "\(id)", "live.host": "\(actor.user)",
                "replication.members": "\(members.joined(separator: ","))",
            ]
        )
        return .started(await fresh.state, fresh)
    }

    /// A copy restored from disk proved to be a member: serve it as the group's live session
    /// (unless it has ended, or a newer session of the group is already served here).
    private func confirmedCopy(group: String, session: String) {
        guard let host = host(session: session) else { return }
        let isEnded = ended.withLock { ($0[group] ?? []).contains { $0.info.id == session } }
        guard !isEnded else { return }
        let added = live.withLock { live -> Bool in
            guard live[group] == nil else { return false }
            live[group] = host
            return true
        }
        if added { metrics.sessions.increment() }
    }

    /// The `ended` event committed here (on every replica, not only the primary).
    private func sessionEnded(_ state: LiveSessionState) {
        let removed = live.withLock { hosts -> Bool in
            guard let host = hosts[state.info.group], host.sessionID == state.info.id else { return false }
            hosts[state.info.group] = nil
            return true
        }
        if removed { metrics.sessions.decrement() }
        ended.withLock { all in
            if !(all[state.info.group] ?? []).contains(where: { $0.info.id == state.info.id }) {
                all[state.info.group, default: []].append(state)
            }
        }
        logger.info(
            "session ended",
            metadata: ["live.group": "\(state.info.group)", "live.session": "\(state.info.id)"]
        )
    }

    /// Ended sessions of `group`, newest first.
    func endedSessions(group: String) -> [LiveSessionState] {
        ended.withLock { ($0[group] ?? []).reversed() }
    }

    func endedSession(group: String, id: String) -> LiveSessionState? {
        ended.withLock { $0[group]?.first { $0.info.id == id } }
    }

    /// The whole committed event log of an ended session.
    func events(group: String, session: String) async -> [LiveEvent] {
        guard let host = host(session: session) else { return [] }
        return Array(await host.events)
    }

    // MARK: Links

    /// A message from a peer's link, in the order it was sent.
    func deliver(_ message: LinkMessage, from peer: String) async {
        switch message {
        case .replication(let group, let replication):
            var host = host(session: replication.session)
            if host == nil, case .append = replication.kind, GroupID(group) != nil,
                Self.isValidSessionID(replication.session)
            {
                host = await adoptReplica(group: group, session: replication.session)
            }
            guard let host else {
                replicationMetrics.messagesDropped.increment()
                return
            }
            await host.receive(replication, from: replication.sender)
        case .media(_, let session, let bytes):
            await host(session: session)?.relayed(bytes)
        case .leaving(_, _, let node):
            draining.withLock { $0[node] = ContinuousClock.now }
        case .removed(let group, let session, let node, let epoch):
            guard node == nodeID, let host = host(session: session), await host.retire(notice: epoch) else { return }
            hosts.withLock { $0[session] = nil }
            let dropped = live.withLock { live -> Bool in
                guard live[group] === host else { return false }
                live[group] = nil
                return true
            }
            if dropped { metrics.sessions.decrement() }
            ReplicaStore.markRemoved(in: directory(group: group, session: session), epoch: epoch)
            // The log stays on disk, marked removed (a restart does not load it). The notice may
            // be older than this node's place in the set: a primary of another epoch can have
            // removed it while the current one had already added it back and counted on what it
            // acknowledged (deleting the log then left a learner the primary believed ahead of
            // where it was, stuck for good: long chaos run). A re-add resumes from the log; the
            // consistency check trims what diverged.
            logger.info(
                "removed from the replica set",
                metadata: ["live.group": "\(group)", "live.session": "\(session)"]
            )
        }
    }

    /// A primary shipped us a session we do not hold: we are a new replica of it.
    private func adoptReplica(group: String, session: String) async -> SessionHost? {
        do {
            // A log on disk (this node held the session before, and was removed or restarted)
            // is where it resumes: the primary may count on entries it already acknowledged.
            let dir = directory(group: group, session: session)
            let origin: SessionHost.Origin = ReplicaStore.exists(in: dir) ? .restore : .replica
            let host = try await makeHost(group: group, session: session, origin: origin)
            ReplicaStore.clearRemoved(in: dir)
            let (stored, fresh) = hosts.withLock { hosts -> (SessionHost, Bool) in
                if let existing = hosts[session] { return (existing, false) }
                hosts[session] = host
                return (host, true)
            }
            if fresh {
                let replaced = live.withLock { live -> Bool in
                    let had = live[group] != nil
                    live[group] = host
                    return !had
                }
                if replaced { metrics.sessions.increment() }
                logger.info("replica of a session", metadata: ["live.group": "\(group)", "live.session": "\(session)"])
            }
            return stored
        } catch {
            logger.error("cannot hold a replica", metadata: ["live.session": "\(session)", "error": "\(error)"])
            return nil
        }
    }

    // MARK: Drain

    /// Starts a drain in the background (`/admin/v1/drain`); `thenLeave` shuts the node down after
    /// it, which announces the leave to the cluster (`/admin/v1/leave`).
    func requestDrain(thenLeave: Bool) {
        drainingSelf.store(true, ordering: .relaxed)
        state.markDraining()
        drainRequests.continuation.yield(thenLeave)
    }

    /// Hands every primary held here to a caught-up replica and asks primaries to replace this
    /// node as a replica; stops new sessions from being placed here. Returns when nothing is led
    /// here any more, or at the deadline. `progress` gets a line per round.
    func drain(deadline: Duration, progress: (@Sendable (String) -> Void)? = nil) async {
        drainingSelf.store(true, ordering: .relaxed)
        state.markDraining()
        let until = ContinuousClock.now + deadline
        while ContinuousClock.now < until {
            var leading = 0
            var following = 0
            for host in allHosts {
                let summary = await host.summary
                guard summary.phase != .ended else { continue }
                if summary.role == .primary {
                    // A session with no other replica (a one-node cluster) cannot be handed over;
                    // it stays here, and its log on disk, until the node comes back.
                    guard summary.members.count > 1 else { continue }
                    leading += 1
                    _ = await host.handOver(avoiding: drainingNodeIDs())
                } else if summary.members.contains(nodeID) {
                    following += 1
                    if let primary = summary.primary {
                        links.sendLeaving(group: summary.group, session: summary.session, to: primary)
                    }
                }
            }
            progress?("primaries left: \(leading), replica memberships left: \(following)")
            if leading == 0 && following == 0 { break }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    static func isValidSessionID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 64
            && id.utf8.allSatisfy { c in
                (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f"))
                    || c == UInt8(ascii: "-")
            }
    }

    /// Session ids sort by start time: 12 hex digits of milliseconds, then 8 random ones.
    static func newSessionID() -> String {
        var rng = SystemRandomNumberGenerator()
        let millis = String(UInt64(nowMillis()), radix: 16)
        let random = String(rng.next() & 0xFFFF_FFFF, radix: 16)
        return String(repeating: "0", count: max(0, 12 - millis.count)) + millis + "-"
            + String(repeating: "0", count: max(0, 8 - random.count)) + random
    }
}
