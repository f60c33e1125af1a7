import CoreMetrics
import NIOCore
import ServiceLifecycle
import Synchronization

/// How late this node's own timers fire, as evidence of its own health (Lifeguard's "local
/// health", measured directly rather than inferred from missed nacks).
///
/// A node whose CPU is starved (other processes, its own viewers) wakes late for everything:
/// it reads a heartbeat that arrived on time hundreds of milliseconds late, and its timers say
/// the primary or a peer went quiet when it was itself that was not listening. Every such node
/// then raises epochs and declares peers dead (epoch 1 to 17 at 10,000 viewers on 2 cores).
/// The measured lateness stretches the replication timeouts (`SessionReplica.timeoutStretch`)
/// and gossip's probe and suspicion timers (`GossipInstance.lagHealth`) while it lasts.
public final class SchedulingLag: Service, Sendable {
    public struct Settings: Sendable {
        /// How often each event loop's wake-up is sampled: 100 ms (one timer of the loop and
        /// one clock read).
        public var interval: Duration = .milliseconds(100)
        /// How often Swift's pool is sampled: 1 s (a sleeping task, each wake-up a hand-off
        /// between dispatch's threads). The loops' samples see a starved CPU, which delays
        /// everything; this one a pool kept busy while the loops are not.
        public var poolInterval: Duration = .seconds(1)
        /// How long a late wake-up keeps counting: 3 s, several election timeouts, so a node that
        /// stalls every second or two stays stretched between stalls.
        public var window: Duration = .seconds(3)
        /// Lateness that adds one to the stretch: 300 ms, the shortest election timeout; a node
        /// 300 ms late doubles its timeouts. Lateness below 20 ms counts as none (timer slack).
        public var unit: Duration = .milliseconds(300)
        /// Ceiling of the stretch: 8, as Lifeguard's awareness ceiling.
        public var maxStretch: Double = 8

        public init() {}
    }

    private let settings: Settings
    private let samples = Mutex(LagWindow())
    private let lagGauge: Gauge
    private let stretchGauge: Gauge
    /// The node's event loops: every socket's bytes, heartbeats and gossip included, wait in
    /// their queues, which a busy loop (thousands of viewers' writes) makes long while Swift's
    /// own pool, and so the sleeping sampler, may still wake on time.
    private let loops: [any EventLoop]

    public init(settings: Settings = Settings(), loops: [any EventLoop] = [], factory: any MetricsFactory) {
        self.settings = settings
        self.loops = loops
        lagGauge = Gauge(label: "qunbo_node_scheduling_lag_seconds", factory: factory)
        stretchGauge = Gauge(label: "qunbo_node_timeout_stretch", factory: factory)
        stretchGauge.record(1)
    }

    /// The factor this node's failure-detection timeouts are multiplied by now, in 1...maxStretch.
    public var stretch: Double {
        samples.withLock { $0.stretch(at: .now, settings: settings) }
    }

    public func run() async throws {
        // Each loop samples itself with its own timer: how late it fires is how long anything
        // arriving on that loop waits (its queue and its timers), at one wake-up of the loop per
        // sample. Swift's pool, where the sessions' actors run, is sampled by a sleeping task
        // less often: each of its wake-ups is a hand-off between dispatch's threads.
        let interval = TimeAmount.nanoseconds(settings.interval.nanoseconds)
        let samplers = loops.map { loop in
            LoopSampler(loop: loop, interval: interval) { [weak self] late in self?.record(late: late) }
        }
        for sampler in samplers { sampler.start() }
        defer { for sampler in samplers { sampler.stop() } }
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let due = ContinuousClock.now + self.settings.poolInterval
                try await Task.sleep(until: due)
                self.record(late: ContinuousClock.now - due)
            }
        }
    }

    private func record(late: Duration) {
        let now = ContinuousClock.now
        let (worst, stretch) = samples.withLock { window in
            window.record(late: late, at: now, settings: settings)
            return (window.worst(at: now, settings: settings), window.stretch(at: now, settings: settings))
        }
        lagGauge.record(Double(worst.components.seconds) + Double(worst.components.attoseconds) / 1e18)
        stretchGauge.record(stretch)
    }
}

/// One event loop's timer, re-armed from the moment it fired, reporting how late it fired.
private final class LoopSampler: Sendable {
    private let loop: any EventLoop
    private let interval: TimeAmount
    private let report: @Sendable (Duration) -> Void
    private let scheduled = Mutex<(task: Scheduled<Void>?, stopped: Bool)>((nil, false))

    init(loop: any EventLoop, interval: TimeAmount, report: @escaping @Sendable (Duration) -> Void) {
        self.loop = loop
        self.interval = interval
        self.report = report
    }

    func start() { arm(due: .now() + interval) }

    func stop() {
        scheduled.withLock { state in
            state.stopped = true
            state.task?.cancel()
        }
    }

    private func arm(due: NIODeadline) {
        scheduled.withLock { state in
            guard !state.stopped else { return }
            state.task = loop.scheduleTask(deadline: due) {
                let now = NIODeadline.now()
                self.report(.nanoseconds(max(0, (now - due).nanoseconds)))
                self.arm(due: now + self.interval)
            }
        }
    }
}

/// The recent late wake-ups and what they imply; a value, so it is tested without a clock.
struct LagWindow: Sendable {
    private var samples: [(at: ContinuousClock.Instant, late: Duration)] = []

    /// Records one wake-up `late` after it was due and forgets what fell out of the window.
    mutating func record(late: Duration, at now: ContinuousClock.Instant, settings: SchedulingLag.Settings) {
        samples.removeAll { now - $0.at > settings.window }
        if late > .milliseconds(20) { samples.append((now, late)) }
    }

    /// The latest wake-up within the window (zero when none was late).
    func worst(at now: ContinuousClock.Instant, settings: SchedulingLag.Settings) -> Duration {
        samples.filter { now - $0.at <= settings.window }.map(\.late).max() ?? .zero
    }

    /// `1 + worst / unit`, at most `maxStretch`.
    func stretch(at now: ContinuousClock.Instant, settings: SchedulingLag.Settings) -> Double {
        let ratio = worst(at: now, settings: settings) / settings.unit
        return min(1 + ratio, settings.maxStretch)
    }
}
