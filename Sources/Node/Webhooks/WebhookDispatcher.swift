import Foundation
import Live
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Sends the webhooks of the logs this node is primary of (API.md, Webhooks): one sender per
/// log and destination, in the log's order, each delivery signed (`Qunbo-Signature`) and tried
/// again with backoff and jitter until a 2xx or `giveUpAfter`.
///
/// Nothing here is durable: what is owed is the log's outbox (`WebhookOutbox`), and what was
/// acknowledged is the cursor the host writes into the log. A sender that dies with its node
/// or its role leaves the cursor where the last commit put it; the new primary's sender resumes
/// there. A slow or dead receiver costs its own senders' time and at most `maxInFlight`
/// connections; the live's writes never wait for a webhook, and other destinations have their
/// own senders and permits.
final class WebhookDispatcher: Service, Sendable {
    struct Settings: Sendable {
        /// `--webhook-url`, in order. Default none (the dispatcher idles).
        var urls: [String] = []
        /// `--webhook-secret`: signs every delivery.
        var secret = ""
        /// Retry timing (`--webhook-max-backoff` sets its cap; 30 s by default).
        var backoff = WebhookBackoff()
        /// An entry not acknowledged this long after its event is given up, counted and logged.
        /// Default 24 h (API.md).
        var giveUpAfter: Duration = .milliseconds(SessionHost.webhookGiveUpMillis)
        /// One attempt's deadline, connect to response head. Default 10 s.
        var attemptTimeout: Duration = .seconds(10)
        /// Deliveries in flight from this node to one destination. Default 32.
        var maxInFlight = 32
    }

    /// What `qunbo webhooks` shows of one destination at this node.
    typealias DestinationStatus = AdminAPI.WebhooksJSON.Destination

    let settings: Settings
    let destinations: [WebhookDestinationConfig]
    private let client: WebhookClient
    private let sessions: LiveSessions
    private let metrics: WebhookMetrics
    private let logger: Logger
    /// Senders running, by `"<group>/<destination key>"`.
    private let running = Mutex<Set<String>>([])
    private let permits: [UInt64: AsyncPermits]
    private let status: Mutex<[UInt64: DestinationStatus]>

    init(settings: Settings, client: WebhookClient, sessions: LiveSessions, metrics: WebhookMetrics, logger: Logger) {
        self.settings = settings
        self.destinations = settings.urls.map(WebhookDestinationConfig.init(url:))
        self.client = client
        self.sessions = sessions
        self.metrics = metrics
        self.logger = logger
        self.permits = Dictionary(
            destinations.map { ($0.key, AsyncPermits(limit: settings.maxInFlight)) },
            uniquingKeysWith: { a, _ in a }
        )
        self.status = Mutex(
            Dictionary(destinations.map { ($0.key, DestinationStatus(url: $0.url)) }, uniquingKeysWith: { a, _ in a })
        )
    }

    /// Every destination's status at this node, in `--webhook-url` order.
    var snapshot: [DestinationStatus] {
        let all = status.withLock { $0 }
        return destinations.compactMap { all[$0.key] }
    }

    /// `GET /admin/v1/webhooks` (`qunbo webhooks`): this node's view; backlogs count only the
    /// logs it leads.
    func json(node: String) -> AdminAPI.WebhooksJSON { AdminAPI.WebhooksJSON(node: node, destinations: snapshot) }

    /// A session's copy here owes webhooks as primary: make sure its group's senders run.
    func due(session: String) {
        guard let host = sessions.host(session: session) else { return }
        let owner = GroupLog.owner(of: host.group) ?? host.group
        for destination in destinations { start(group: owner, destination) }
    }

    private func start(group: String, _ destination: WebhookDestinationConfig) {
        let key = "\(group)/\(destination.key)"
        guard running.withLock({ $0.insert(key).inserted }) else { return }
        Task { await self.send(group: group, to: destination, key: key) }
    }

    /// The next webhook of `group` for `destination` among the logs of the group led here (its
    /// lives, ended ones still owing included, and its group log): each log's next one, the
    /// earliest event first, so the group's webhooks go out in one order (a group log is placed
    /// with its group, so one node usually leads all of them).
    private func next(
        of logs: [SessionHost],
        for destination: WebhookDestinationConfig
    ) async
        -> (host: SessionHost, webhook: SessionHost.PreparedWebhook)?
    {
        var best: (host: SessionHost, webhook: SessionHost.PreparedWebhook)?
        for host in logs {
            guard let webhook = await host.nextWebhook(destination: destination.key) else { continue }
            if let current = best,
                (current.webhook.eventAt, current.host.sessionID) <= (webhook.eventAt, host.sessionID)
            {
                continue
            }
            best = (host, webhook)
        }
        return best
    }

    /// The sender of one group and destination: one delivery at a time, in order, until nothing
    /// is owed by the logs of the group this node leads.
    private func send(group: String, to destination: WebhookDestinationConfig, key: String) async {
        var failures = 0
        var logs = sessions.hosts(ofGroup: group)
        var listedAt = ContinuousClock.now
        while true {
            // A new live of the group (or one that became primary here) joins within a second.
            if ContinuousClock.now - listedAt > .seconds(1) {
                logs = sessions.hosts(ofGroup: group)
                listedAt = ContinuousClock.now
            }
            guard let (host, webhook) = await next(of: logs, for: destination) else {
                running.withLock { _ = $0.remove(key) }
                // A notice that came while this sender was finishing found it still running:
                // look once more, and go on if something is owed and no other sender took it.
                logs = sessions.hosts(ofGroup: group)
                listedAt = ContinuousClock.now
                guard await next(of: logs, for: destination) != nil, running.withLock({ $0.insert(key).inserted })
                else { return }
                continue
            }
            let age = LiveSessions.nowMillis() - webhook.eventAt
            if age > Int64(settings.giveUpAfter / .milliseconds(1)) {
                metrics.dropped.increment()
                update(destination) { $0.dropped += 1 }
                logger.error(
                    "webhook given up: not acknowledged in time",
                    metadata: ["webhook.id": "\(webhook.id)", "webhook.destination": "\(destination.label)"]
                )
                await host.webhookDone(destination: destination.key, index: webhook.index)
                continue
            }
            let permits = permits[destination.key]!
            await permits.acquire()
            let outcome = await attempt(webhook, to: destination)
            await permits.release()
            if outcome {
                failures = 0
                metrics.latency.recordNanoseconds(max(0, (LiveSessions.nowMillis() - webhook.eventAt) * 1_000_000))
                await host.webhookDone(destination: destination.key, index: webhook.index)
            } else {
                failures += 1
                let wait = settings.backoff.delayMillis(afterFailures: failures, random: Double.random(in: 0..<1))
                try? await Task.sleep(for: .milliseconds(wait))
            }
        }
    }

    /// One delivery attempt; true on a 2xx.
    private func attempt(_ webhook: SessionHost.PreparedWebhook, to destination: WebhookDestinationConfig) async -> Bool
    {
        let body = Array(webhook.body.utf8)
        let signature = WebhookSignature.sign(
            body: body,
            secret: settings.secret,
            timestamp: Int64(Date().timeIntervalSince1970)
        )
        let headers = [
            ("Qunbo-Signature", signature.header), ("Qunbo-Webhook-Id", webhook.id),
            ("Qunbo-Webhook-Type", webhook.kind.rawValue),
        ]
        do {
            let code = try await client.post(
                url: destination.url,
                body: ByteBuffer(bytes: body),
                headers: headers,
                timeout: settings.attemptTimeout
            )
            let ok = (200..<300).contains(code)
            (ok ? metrics.delivered : metrics.failed).increment()
            update(destination) {
                $0.attempts += 1
                $0.lastStatus = code
                if ok { $0.delivered += 1 } else { $0.failures += 1 }
                $0.lastError = ok ? nil : "HTTP \(code)"
            }
            return ok
        } catch {
            if case .timedOut = error { metrics.timedOut.increment() } else { metrics.failed.increment() }
            update(destination) {
                $0.attempts += 1
                $0.failures += 1
                $0.lastStatus = nil
                $0.lastError = "\(error)"
            }
            logger.debug(
                "webhook attempt failed",
                metadata: [
                    "webhook.id": "\(webhook.id)", "webhook.destination": "\(destination.label)", "error": "\(error)",
                ]
            )
            return false
        }
    }

    private func update(_ destination: WebhookDestinationConfig, _ change: (inout DestinationStatus) -> Void) {
        status.withLock { all in
            var entry = all[destination.key] ?? DestinationStatus(url: destination.url)
            change(&entry)
            all[destination.key] = entry
        }
    }

    /// Each second: the backlog gauges, and senders for any primary copy that owes webhooks
    /// without one (a notice lost to a race, or a copy restored as primary).
    func run() async throws {
        // A service that returns stops the node: with no destination it only waits.
        await runPeriodically(every: .seconds(1)) { if !self.destinations.isEmpty { await self.refresh() } }
    }

    func refresh() async {
        var totals: [UInt64: (count: UInt64, oldestAt: Int64?)] = [:]
        for host in sessions.allHosts {
            let backlog = await host.webhookBacklog
            guard !backlog.isEmpty else { continue }
            due(session: host.sessionID)
            for (key, value) in backlog {
                let total = totals[key] ?? (0, nil)
                let oldest = [total.oldestAt, value.oldestAt].compactMap { $0 }.min()
                totals[key] = (total.count + value.count, oldest)
            }
        }
        let now = LiveSessions.nowMillis()
        for destination in destinations {
            let total = totals[destination.key] ?? (0, nil)
            metrics.backlog[destination.key]?.set(Int(total.count))
            update(destination) {
                $0.backlog = Int(total.count)
                $0.oldestPendingSeconds = total.oldestAt.map { Double(max(0, now - $0)) / 1000 }
            }
        }
    }
}
