import CoreMetrics
import Foundation
import Gossip
import Live
import Logging
import NIOCore
import ServiceLifecycle
import Shard
import Synchronization

/// Every session this node holds as a replica (primary or not), the live one of each group, and
/// the ended ones kept for replay: creation, restore from disk, replication timers, reaction to
/// membership changes (failover, replica replacement) and drain.
public final class LiveSessions: Service, Sendable {
    /// Replication timing of the shell; the protocol's own timers are in `ReplicationSettings`.
    public struct Settings: Sendable {
        /// Target replica-set size, primary included (`--replicas`). Default 3.
        public var replicas: Int = 3
        /// How long a drain waits for primaries to hand over and replicas to be replaced before
        /// the node goes anyway. Default 20 s.
        public var drainDeadline: Duration = .seconds(20)
        public var protocolSettings = ReplicationSettings()
        /// The session directory's timing (its replica count and ingest grace are set from
        /// `replicas` and `LiveSettings.ingestGrace`).
        public var directory = DirectorySettings()
        public init() {}
    }

    let dataDir: String
    let nodeID: String
    let settings: LiveSettings
    let shell: Settings
    let logger: Logger
    let metrics: LiveMetrics
    let replicationMetrics: ReplicationMetrics
    let view: ClusterView
    let links: PeerLinks
    let state: NodeState
    /// Free space of the data dir against `--min-free-disk`.
    let diskSpace: DiskSpace
    /// Session logs found corrupt at start and quarantined; logs that failed (fail-stop).
    let quarantined: Counter
    let logFailures: Counter
    private let start = ContinuousClock.now

    /// Every session held here, by session id.
    let hosts = Mutex<[String: SessionHost]>([:])
    /// The placement and lifecycle policy of the copies held here (`SessionDirectory`): which copy
    /// serves each group, campaigns, settling, retiring, replica-set maintenance, the ingest
    /// grace. This shell feeds it and executes its directives (`LiveSessions+Directory.swift`).
    let directory: Mutex<SessionDirectory>
    /// The directory's settings (fixed at start), read by lookups without its lock.
    let directorySettings: DirectorySettings
    /// Directives waiting for the executor, in the order the directory gave them.
    let directives = AsyncStream<DirectoryWork>.makeStream()
    /// When this node was first seen joined.
    let firstJoined = Mutex<ReplicationTime?>(nil)
    /// The directory's one timer.
    let directoryTimer = Mutex<Scheduled<Void>?>(nil)
    /// Settled copies that left memory, as they were when they settled (for `/admin/v1/sessions`).
    let settledSummaries = Mutex<[String: SessionSummary]>([:])
    /// Ended sessions by group, oldest first.
    private let ended = Mutex<[String: [LiveSessionState]]>([:])
    /// Nodes that announced they are draining, with when we heard it.
    let draining = Mutex<[String: ContinuousClock.Instant]>([:])
    let drainingSelf = Atomic<Bool>(false)
    let drainRequests = AsyncStream<Bool>.makeStream(bufferingPolicy: .bufferingNewest(4))
    /// Replicas whose lag gauge this node set last round.
    let lagReported = Mutex<Set<String>>([])
    /// Where timers (the directory's, every session's replication core) are armed.
    let timerLoop: any EventLoop
    /// Groups with a start in progress here.
    private let starting = Mutex<Set<String>>([])
    /// The edge-relay copies held here (`LiveSessions+Relays.swift`).
    let relays: RelayHub
    /// The node's scheduling-lag stretch, for every replica's timeouts (`SchedulingLag`).
    let timeoutStretch: @Sendable () -> Double
    /// Told a session id when its copy here, as primary, owes webhooks (`WebhookDispatcher.due`).
    let webhooksDue = Mutex<(@Sendable (String) -> Void)?>(nil)

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
        diskSpace: DiskSpace,
        timerLoop: any EventLoop,
        relaySettings: RelayHub.Settings = RelayHub.Settings(),
        timeoutStretch: @escaping @Sendable () -> Double = { 1 },
        logger: Logger
    ) {
        self.timeoutStretch = timeoutStretch
        self.relays = RelayHub(settings: relaySettings)
        self.diskSpace = diskSpace
        quarantined = Counter(label: "qunbo_storage_quarantined_total", factory: metricsFactory)
        logFailures = Counter(label: "qunbo_storage_log_failures_total", factory: metricsFactory)
        self.timerLoop = timerLoop
        var directorySettings = shell.directory
        directorySettings.replicas = shell.replicas
        directorySettings.ingestGrace = .milliseconds(UInt64(max(0, settings.ingestGrace / .milliseconds(1))))
        directorySettings.learnerStall = .milliseconds(UInt64(max(0, settings.learnerStall / .milliseconds(1))))
        self.directorySettings = directorySettings
        self.directory = Mutex(SessionDirectory(me: nodeID, settings: directorySettings, now: .zero))
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

    private func hooks(group: String, session: String, relay: Bool) -> SessionHostHooks {
        // A relay copy is nobody's replica: the directory, the ended list, webhooks and the
        // replication metrics never hear of it.
        guard !relay else {
            return SessionHostHooks(
                now: { [start] in
                    ReplicationTime(nanoseconds: UInt64(max(0, (ContinuousClock.now - start).nanoseconds)))
                },
                ended: { _ in },
                roleChange: { _ in },
                replicaChange: {},
                statusChanged: { _, _ in },
                ingestChanged: { _ in }
            )
        }
        return SessionHostHooks(
            now: { [start] in ReplicationTime(nanoseconds: UInt64(max(0, (ContinuousClock.now - start).nanoseconds))) },
            timeoutStretch: timeoutStretch,
            ended: { [weak self] state in self?.sessionEnded(state) },
            roleChange: { [replicationMetrics] failover in
                replicationMetrics.epochChanges.increment()
                if failover { replicationMetrics.failovers.increment() }
            },
            replicaChange: { [replicationMetrics] in replicationMetrics.replicaChanges.increment() },
            statusChanged: { [weak self] copy, confirmed in
                self?.feed { $0.update(copy, confirmed: confirmed, now: $1) }
            },
            webhooksDue: { [weak self] in
                guard let notice = self?.webhooksDue.withLock({ $0 }) else { return }
                notice(session)
            },
            ingestChanged: { [weak self] active in
                self?.feed { directory, now in
                    guard !active else {
                        directory.ingestStarted(session: session)
                        return []
                    }
                    return directory.ingestStopped(session: session, now: now)
                }
            },
            storage: SessionStorageHooks(
                diskLow: { [diskSpace] in diskSpace.isLow },
                refused: { [diskSpace] in diskSpace.refused() },
                logFailed: { [logFailures] in logFailures.increment() },
                quarantined: { [quarantined] in quarantined.increment() }
            )
        )
    }

    func makeHost(
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
            hooks: hooks(group: group, session: session, relay: origin.isRelay),
            now: replicationNow,
            timerLoop: timerLoop,
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
        for group in (try? fm.contentsOfDirectory(atPath: groupsDir)) ?? [] where GroupLog.isSessionGroup(group) {
            for session in (try? fm.contentsOfDirectory(atPath: "\(groupsDir)/\(group)")) ?? [] {
                let dir = directory(group: group, session: session)
                guard ReplicaStore.exists(in: dir),
                    SessionDirectory.loadsFromDisk(markedRemoved: ReplicaStore.isRemoved(in: dir))
                else { continue }
                // One bad copy never stops the node: it is logged and left out, the rest loads.
                let host: SessionHost
                do {
                    host = try await makeHost(group: group, session: session, origin: .restore)
                } catch {
                    if case .corrupt = error {
                        // Lost committed entries of a settled session: its replay is served by
                        // the other copies; this one is no longer loaded (the files stay).
                        ReplicaStore.markRemoved(in: dir, epoch: 0)
                        quarantined.increment()
                    }
                    logger.error(
                        "cannot load a session copy; starting without it",
                        metadata: ["live.group": "\(group)", "live.session": "\(session)", "error": "\(error)"]
                    )
                    continue
                }
                hosts.withLock { $0[session] = host }
                let copy = await host.copy
                feed { $0.restored(copy, now: $1) }
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
        view.observe { [weak self] snapshot in
            guard let self else { return }
            let view = self.directoryView(snapshot)
            self.feed { $0.viewChanged(view, now: $1) }
        }
        feed { $0.tick(now: $1) }
        await withDiscardingTaskGroup { group in
            group.addTask { await self.executeDirectives() }
            group.addTask { await self.runRelays() }
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
            directives.continuation.finish()
            group.cancelAll()
        }
    }

    /// Stats and pings of the sessions served here, about once a second.
    func tick() async {
        for host in servedHosts { await host.tick() }
        await reportReplicationMetrics()
    }

    // MARK: Placement

    /// The group's preference list over the current ring: every placed node, best first.
    func preferenceList(group: String, snapshot: ClusterView.Snapshot? = nil) -> [String] {
        let snapshot = snapshot ?? view.snapshot
        return snapshot.ring.preferenceList(for: DirectoryView.placementKey(group), count: snapshot.members.count)
    }

    /// The group's preference list without dead and draining nodes, best placed first: where a
    /// session (a live or a share pointer) of the group starts.
    func startCandidates(group: String) -> [String] {
        let snapshot = view.snapshot
        let draining = drainingNodeIDs()
        let alive = snapshot.aliveIDs
        return preferenceList(group: group, snapshot: snapshot).filter { alive.contains($0) && !draining.contains($0) }
    }

    func drainingNodeIDs() -> Set<String> {
        drainingIDs(at: .now)
    }

    private func drainingIDs(at now: ContinuousClock.Instant) -> Set<String> {
        let cutoff = now - .seconds(120)
        var ids = draining.withLock { d -> Set<String> in
            d = d.filter { $0.value > cutoff }
            return Set(d.keys)
        }
        if drainingSelf.load(ordering: .relaxed) { ids.insert(nodeID) }
        return ids
    }

    var isDraining: Bool { drainingSelf.load(ordering: .relaxed) }

    // MARK: Operations

    /// The live session of `group` held here and served (the directory's choice), if any.
    func host(group: String) -> SessionHost? {
        guard let session = directory.withLock({ $0.served[group] }) else { return nil }
        return host(session: session)
    }

    func host(session: String) -> SessionHost? { hosts.withLock { $0[session] } }

    /// The hosts serving a group here.
    var servedHosts: [SessionHost] {
        let sessions = directory.withLock { Array($0.served.values) }
        return hosts.withLock { hosts in sessions.compactMap { hosts[$0] } }
    }

    /// Any copy of a live session of `group` held here, served or not (a copy restored from
    /// disk awaits its primary's confirmation): proof the session exists while its primary is
    /// unknown.
    func anyLiveCopy(group: String) -> SessionHost? {
        if let served = host(group: group) { return served }
        guard let copy = directory.withLock({ $0.unconfirmedCopy(group: group) }) else { return nil }
        return host(session: copy.session)
    }

    var allHosts: [SessionHost] { hosts.withLock { Array($0.values) } }

    /// Every copy held here of `group`'s sessions: its lives, live or ended, and its group log.
    func hosts(ofGroup group: String) -> [SessionHost] {
        let log = GroupLog.logGroup(of: group)
        return hosts.withLock { $0.values.filter { $0.group == group || $0.group == log } }
    }

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
        members: [String],
        sharedFrom: String? = nil
    ) async throws -> StartOutcome {
        if let existing = host(group: group) { return .alreadyLive(existing) }
        // Reserve the group before the first await, so two concurrent starts cannot both win.
        guard starting.withLock({ $0.insert(group).inserted }) else { throw LiveError.conflict }
        defer { starting.withLock { _ = $0.remove(group) } }
        let id = Self.newSessionID()
        let fresh = try await makeHost(group: group, session: id, origin: .bootstrap(members: members))
        hosts.withLock { $0[id] = fresh }
        let copy = await fresh.copy
        feed { $0.started(copy, now: $1) }
        do {
            let command: LiveCommand =
                sharedFrom.map { .startShare(from: $0, title: title, record: record) }
                ?? .start(title: title, record: record)
            _ = try await fresh.write(command, by: actor, now: Self.nowMillis())
        } catch {
            hosts.withLock { $0[id] = nil }
            feed { directory, _ in directory.dropped(id) }
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

    /// The `ended` event committed here (on every replica, not only the primary).
    private func sessionEnded(_ state: LiveSessionState) {
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

    /// The whole committed event log of an ended session: from its host while it is in memory,
    /// else read from disk (a settled copy left memory; its log is read on demand).
    func events(group: String, session: String) async -> ReplayEvents {
        if let host = host(session: session) { return .memory(await host.events) }
        let dir = directory(group: group, session: session)
        guard let committed = ReplicaStore.settledCommit(in: dir),
            let (_, entries) = try? ReplicaStore.load(directory: dir)
        else { return .memory([]) }
        // Kept encoded: each piece of the response decodes and renders only its own events.
        return .encoded(
            entries.filter { $0.seq <= committed }.compactMap { entry in
                guard case .data(let payload) = entry.kind, LogPayload.isEvent(payload) else { return nil }
                return payload
            }
        )
    }

    /// What `/admin/v1/sessions` lists: every copy in memory, and the settled ones that left it.
    func summaries() async -> [SessionSummary] {
        var list: [SessionSummary] = []
        for host in allHosts + relays.all { list.append(await host.summary) }
        let inMemory = Set(list.map(\.session))
        list += settledSummaries.withLock { Array($0.values) }.filter { !inMemory.contains($0.session) }
        return list.sorted { ($0.group, $0.session) < ($1.group, $1.session) }
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
