import CoreMetrics
import Foundation
import Gossip
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization
import Wire

/// Runs the pure `GossipInstance` on real time and real sockets: ticks it, carries its messages
/// to peers as HTTP/2 requests on one persistent connection per peer, feeds it what peers send,
/// and publishes the resulting view (`ClusterView`), readiness and metrics.
///
/// A broken connection is reported to the core as a send failure, a strong hint, but only SWIM
/// suspicion and its timeout declare a member dead.
public final class GossipShell: Service, Sendable {
    /// Shell settings; the protocol's own live in `GossipSettings`.
    public struct Settings: Sendable {
        /// The longest the core goes without a tick. It is ticked when it next has work
        /// (`GossipInstance.nextTickAt`), so this only bounds how late a deadline that moved
        /// earlier outside a call into the core is met (the scheduling lag easing off, which
        /// shortens suspicion timeouts). Default 250 ms.
        public var longestTickWait: Duration = .milliseconds(250)
        /// Deadline of one gossip request. Default 1 s: a slower answer is a failed probe anyway.
        public var requestTimeout: TimeAmount = .seconds(1)
        /// Largest gossip message accepted. Default 4 MiB (a 1,000-member push-pull is ~300 KB).
        public var maxMessageBytes: Int = 4 << 20
        /// On shutdown, how long the leave announcement may take to go out. Default 1 s.
        public var leaveFlush: Duration = .seconds(1)
        public var protocolSettings = GossipSettings()
        public init() {}
    }

    public static let route = "/internal/v1/gossip"

    private struct Outgoing: Sendable {
        var message: GossipMessage
        var address: String
    }

    private let instance: Mutex<GossipInstance>
    private let lastStats = Mutex(GossipStats())
    private let settings: Settings
    private let peers: PeerClient
    private let view: ClusterView
    private let state: NodeState
    private let metrics: GossipMetrics
    private let logger: Logger
    private let start = ContinuousClock.now
    private let outbox: AsyncStream<Outgoing>
    private let outboxContinuation: AsyncStream<Outgoing>.Continuation
    private let hasOtherSeeds: Bool
    private let connectionLosses: AsyncStream<String>
    /// This node's scheduling lag; it sets the core's `lagHealth` before every tick.
    private let lag: SchedulingLag?
    /// The event loop whose timer ticks the core.
    private let tickLoop: any EventLoop
    /// The armed tick: when it fires, and whether the shell stopped ticking (leaving).
    private let timer = Mutex<(task: Scheduled<Void>?, at: NIODeadline?, stopped: Bool)>((nil, nil, false))

    /// - Parameter connectionLosses: addresses whose peer connection broke (from `PeerClient`).
    public init(
        connectionLosses: AsyncStream<String> = AsyncStream { $0.finish() },
        myself: Member,
        seeds: [String],
        settings: Settings = Settings(),
        peers: PeerClient,
        view: ClusterView,
        state: NodeState,
        metricsFactory: any MetricsFactory,
        lag: SchedulingLag? = nil,
        tickLoop: any EventLoop,
        logger: Logger
    ) {
        self.lag = lag
        self.tickLoop = tickLoop
        var seed = SystemRandomNumberGenerator()
        let random = GossipRandom(seed: seed.next())
        instance = Mutex(
            GossipInstance(
                myself: myself,
                seeds: seeds,
                settings: settings.protocolSettings,
                random: random,
                now: GossipTime(nanoseconds: 0)
            )
        )
        self.settings = settings
        self.peers = peers
        self.view = view
        self.state = state
        self.metrics = GossipMetrics(factory: metricsFactory)
        self.logger = logger
        self.connectionLosses = connectionLosses
        (outbox, outboxContinuation) = AsyncStream.makeStream(
            of: Outgoing.self,
            bufferingPolicy: .bufferingNewest(4096)
        )
        hasOtherSeeds = seeds.contains { $0 != myself.address }
        if !hasOtherSeeds { state.markAlone() }
        view.update(members: instance.withLock { $0.members })
    }

    private var now: GossipTime {
        let elapsed = ContinuousClock.now - start
        return GossipTime(nanoseconds: UInt64(max(0, elapsed.nanoseconds)))
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.sendLoop() }
            group.addTask {
                for await address in self.connectionLosses {
                    let directives = self.instance.withLock { $0.connectionLost(to: address, now: self.now) }
                    self.apply(directives)
                }
            }
            // The core is ticked when it next has work (`nextTickAt`), by a timer of an event
            // loop: no fixed beat, and each wake-up is the loop's own, not a hand-off between
            // Swift's timer and worker threads (together those were most of an idle node's CPU).
            tick()
            try? await gracefulShutdown()
            timer.withLock { timer in
                timer.stopped = true
                timer.task?.cancel()
            }
            // Leave: tell the others (they mark us `left`, not dead), give it a moment to go out.
            let directives = instance.withLock { $0.leave(now: self.now) }
            apply(directives)
            logger.info("left the cluster")
            try? await Task.sleep(for: settings.leaveFlush)
            outboxContinuation.finish()
            group.cancelAll()
        }
        await peers.closeAll()
    }

    /// The armed timer fired: it is no longer armed (unless another replaced it meanwhile).
    private func fired(armedFor at: NIODeadline) {
        timer.withLock { timer in
            guard timer.at == at else { return }
            timer.task = nil
            timer.at = nil
        }
        tick()
    }

    private func tick() {
        let lagHealth = lag.map { Int($0.stretch) - 1 } ?? 0
        let directives = instance.withLock {
            $0.lagHealth = lagHealth
            return $0.tick(now: self.now)
        }
        apply(directives)
    }

    /// Arms the tick timer for the core's `nextTickAt` (at most `longestTickWait` ahead); called
    /// after every call into the core, which may have moved that time earlier. A timer already
    /// armed for an earlier time stays: when it fires, the tick re-arms for the later one.
    private func rearm() {
        let next = instance.withLock { $0.nextTickAt }
        let now = self.now
        timer.withLock { timer in
            guard !timer.stopped, let next else { return }
            let wait =
                next > now ? min(Int64(next.nanoseconds - now.nanoseconds), settings.longestTickWait.nanoseconds) : 0
            let at = NIODeadline.now() + .nanoseconds(wait)
            if let armed = timer.at, armed <= at { return }
            timer.task?.cancel()
            timer.at = at
            timer.task = tickLoop.scheduleTask(deadline: at) { self.fired(armedFor: at) }
        }
    }

    /// Handles a message from a peer (the internal gossip route).
    public func receive(_ message: GossipMessage) {
        let directives = instance.withLock { $0.receive(message, from: message.sender.address, now: self.now) }
        apply(directives)
    }

    /// The route handler for `POST /internal/v1/gossip`.
    public func handle(_ request: Request) async throws -> Response {
        guard request.peer != nil else {
            metrics.dropped("unauthenticated")
            throw PeerGate.notAPeer
        }
        var body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: settings.maxMessageBytes + 16)
        } catch {
            metrics.dropped("too_large")
            throw error
        }
        metrics.received(bytes: body.readableBytes)
        let message: GossipMessage
        do {
            guard let payload = try BatchFrame.decode(from: &body, maxPayload: settings.maxMessageBytes) else {
                throw APIError.badRequest("truncated gossip frame")
            }
            message = try JSONDecoder().decode(GossipMessage.self, from: Data(payload.readableBytesView))
        } catch {
            metrics.dropped("malformed")
            throw APIError.badRequest("malformed gossip message", code: "malformed_gossip")
        }
        receive(message)
        return Response(status: .noContent)
    }

    /// Executes directives: queues sends, publishes member changes.
    private func apply(_ directives: [GossipDirective]) {
        var changed = false
        for directive in directives {
            switch directive {
            case .send(let message, let address):
                outboxContinuation.yield(Outgoing(message: message, address: address))
            case .memberChanged(let member, let previous):
                changed = true
                if previous != member.status {
                    logger.info(
                        "member \(member.status.rawValue)",
                        metadata: [
                            "gossip.member.id": "\(member.id)", "gossip.member.status": "\(member.status.rawValue)",
                            "gossip.member.previous": "\(previous?.rawValue ?? "new")",
                            "gossip.member.incarnation": "\(member.incarnation)",
                        ]
                    )
                }
            }
        }
        let (members, stats, health, myID) = instance.withLock { ($0.members, $0.stats, $0.localHealth, $0.myself.id) }
        let before = lastStats.withLock { last in
            defer { last = stats }
            return last
        }
        metrics.record(stats: stats, since: before, localHealth: health)
        rearm()
        guard changed else { return }
        view.update(members: members)
        metrics.members(members)
        if hasOtherSeeds && members.contains(where: { $0.id != myID && $0.status == .alive }) {
            state.markJoined()
        }
    }

    private func sendLoop() async {
        await withDiscardingTaskGroup { group in
            for await outgoing in outbox {
                group.addTask { await self.deliver(outgoing) }
            }
        }
    }

    private func deliver(_ outgoing: Outgoing) async {
        var frame = ByteBuffer()
        do {
            let json = try JSONEncoder().encode(outgoing.message)
            BatchFrame.encode(ByteBuffer(bytes: json), into: &frame)
        } catch {
            logger.error("cannot encode gossip message", metadata: ["error": "\(error)"])
            return
        }
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/x-qunbo-frame")
        metrics.sent(bytes: frame.readableBytes)
        let started = ContinuousClock.now
        do {
            let response = try await peers.request(
                .POST,
                Self.route,
                to: outgoing.address,
                headers: headers,
                body: frame,
                timeout: settings.requestTimeout
            )
            guard response.status == .noContent else {
                logger.warning(
                    "peer refused gossip",
                    metadata: ["gossip.peer": "\(outgoing.address)", "http.status": "\(response.status.code)"]
                )
                reportFailure(outgoing.address)
                return
            }
            if case .ping = outgoing.message.kind { metrics.probeRoundTrip(ContinuousClock.now - started) }
        } catch {
            logger.debug("gossip send failed", metadata: ["gossip.peer": "\(outgoing.address)", "error": "\(error)"])
            reportFailure(outgoing.address)
        }
    }

    private func reportFailure(_ address: String) {
        let directives = instance.withLock { $0.sendFailed(to: address, now: self.now) }
        apply(directives)
    }

    /// Current members, for the admin API.
    public var members: [Member] { instance.withLock { $0.members } }
    /// This node's load as members see it (`MemberLoad`: sessions and viewers held here); it
    /// goes out with the next gossip, at most once per `loadPublishInterval`.
    public func setLoad(_ load: MemberLoad) {
        instance.withLock { $0.setLoad(load) }
        rearm()
    }

    /// Vivaldi RTT estimate to `id` in seconds.
    public func rttEstimate(to id: MemberID) -> Double? { instance.withLock { $0.rttEstimate(to: id) } }
}
