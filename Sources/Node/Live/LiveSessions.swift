import CoreMetrics
import Foundation
import Live
import Logging
import ServiceLifecycle
import Synchronization

/// Every live session this node holds, and the ended ones it keeps for replay: creation, lookup,
/// restore from disk at start, the once-a-second tick (stats, pings, ingest grace).
public final class LiveSessions: Service, Sendable {
    private let dataDir: String
    private let nodeID: String
    private let settings: LiveSettings
    private let logger: Logger
    private let metrics: LiveMetrics

    /// Live (and starting) sessions by group: one live session per group.
    private let live = Mutex<[String: SessionHost]>([:])
    /// Ended sessions by group, newest last.
    private let ended = Mutex<[String: [LiveSessionState]]>([:])

    public init(
        dataDir: String,
        nodeID: String,
        settings: LiveSettings,
        metricsFactory: any MetricsFactory,
        logger: Logger
    ) {
        self.metrics = LiveMetrics(factory: metricsFactory)
        self.dataDir = dataDir
        self.nodeID = nodeID
        self.settings = settings
        self.logger = logger
    }

    static func nowMillis() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    func directory(group: String, session: String) -> String { "\(dataDir)/groups/\(group)/\(session)" }

    func json(_ state: LiveSessionState) -> SessionJSON { SessionJSON(state, primary: nodeID, replicas: [nodeID]) }

    // MARK: Lifecycle

    /// Loads every session under the data dir: acknowledged events are replayed into state;
    /// sessions that were live go on (their ingest may reconnect within the grace period).
    public func restore() throws {
        let groupsDir = dataDir + "/groups"
        let fm = FileManager.default
        try fm.createDirectory(atPath: groupsDir, withIntermediateDirectories: true)
        var restoredLive = 0
        var restoredEnded = 0
        for group in (try? fm.contentsOfDirectory(atPath: groupsDir)) ?? [] where GroupID(group) != nil {
            for session in (try? fm.contentsOfDirectory(atPath: "\(groupsDir)/\(group)")) ?? [] {
                let dir = directory(group: group, session: session)
                let records = try AppendLog.readAll(path: dir + "/events.log")
                var state = LiveSessionState(id: session, group: group, epoch: 1)
                var events: [LiveEvent] = []
                for record in records {
                    guard let event = try? JSONCoding.decoder.decode(LiveEvent.self, from: Data(record)),
                        (try? state.apply(event)) != nil
                    else {
                        logger.error("stopping replay at a bad record", metadata: ["live.dir": "\(dir)"])
                        break
                    }
                    events.append(event)
                }
                switch state.phase {
                case .pending:
                    continue
                case .ended:
                    ended.withLock { $0[group, default: []].append(state) }
                    restoredEnded += 1
                case .live:
                    let host = try SessionHost(
                        state: state,
                        events: events,
                        directory: dir,
                        settings: settings,
                        restored: true,
                        metrics: metrics,
                        logger: logger
                    )
                    live.withLock { $0[group] = host }
                    metrics.sessions.increment()
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
        await withGracefulShutdownHandler {
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                await tick()
            }
        } onGracefulShutdown: {
        }
    }

    /// Stats, pings, and the end of sessions whose ingest stayed away past the grace period.
    func tick() async {
        let hosts = live.withLock { Array($0.values) }
        for host in hosts {
            await host.tick()
            if await host.ingestGraceExpired(settings.ingestGrace) {
                let info = await host.info
                logger.info(
                    "ending session: no ingest within the grace period",
                    metadata: ["live.group": "\(info.group)"]
                )
                _ = try? await end(host: host, by: LiveActor(user: info.host, role: .owner))
            }
        }
    }

    // MARK: Operations

    /// The live session of `group`, if any.
    func host(group: String) -> SessionHost? { live.withLock { $0[group] } }

    enum StartOutcome {
        case started(LiveSessionState)
        case alreadyLive(LiveSessionState)
    }

    func start(group: String, actor: LiveActor, title: String, record: Bool) async throws -> StartOutcome {
        let id = Self.newSessionID()
        let dir = directory(group: group, session: id)
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw StorageError.io(path: dir, reason: "\(error)")
        }
        let fresh = try SessionHost(
            state: LiveSessionState(id: id, group: group, epoch: 1),
            events: [],
            directory: dir,
            settings: settings,
            restored: false,
            metrics: metrics,
            logger: logger
        )
        // Reserve the group before the first await, so two concurrent starts cannot both win.
        let existing = live.withLock { hosts -> SessionHost? in
            if let running = hosts[group] { return running }
            hosts[group] = fresh
            return nil
        }
        if let existing {
            try? FileManager.default.removeItem(atPath: dir)
            return .alreadyLive(await existing.state)
        }
        do {
            _ = try await fresh.write(.start(title: title, record: record), by: actor, now: Self.nowMillis())
        } catch {
            live.withLock { hosts in
                if hosts[group] === fresh { hosts[group] = nil }
            }
            try? FileManager.default.removeItem(atPath: dir)
            throw error
        }
        logger.info(
            "session started",
            metadata: ["live.group": "\(group)", "live.session": "\(id)", "live.host": "\(actor.user)"]
        )
        return .started(await fresh.state)
    }

    /// Ends the live session of `host`'s group (by `actor`, who must be allowed to).
    func end(host: SessionHost, by actor: LiveActor) async throws -> LiveSessionState {
        _ = try await host.write(.end, by: actor, now: Self.nowMillis())
        let state = await host.state
        let removed = live.withLock { hosts -> Bool in
            guard hosts[state.info.group] === host else { return false }
            hosts[state.info.group] = nil
            return true
        }
        if removed { metrics.sessions.decrement() }
        ended.withLock { $0[state.info.group, default: []].append(state) }
        logger.info(
            "session ended",
            metadata: ["live.group": "\(state.info.group)", "live.session": "\(state.info.id)"]
        )
        return state
    }

    /// Ended sessions of `group`, newest first.
    func endedSessions(group: String) -> [LiveSessionState] {
        ended.withLock { ($0[group] ?? []).reversed() }
    }

    func endedSession(group: String, id: String) -> LiveSessionState? {
        ended.withLock { $0[group]?.first { $0.info.id == id } }
    }

    /// The whole event log of an ended session, from disk.
    func events(group: String, session: String) throws -> [LiveEvent] {
        try AppendLog.readAll(path: directory(group: group, session: session) + "/events.log").compactMap {
            try? JSONCoding.decoder.decode(LiveEvent.self, from: Data($0))
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
