import Live
import Metrics
import NIOCore

/// The viewers of one session held here: SSE event viewers and `stream.ts` media viewers, handed
/// off to the session's fan-outs, and the `stats` and ping lines they get.
extension SessionHost {
    // MARK: Event viewers

    /// Registers an event viewer writing to `channel` and starts it with the backlog after
    /// `after`, atomically: the viewer buffers every event published from this instant until
    /// it is activated with the backlog, so it sees each event once, in order. Returns the
    /// future of its end.
    ///
    /// `via`: the group the viewer watches from when the live was shared into it; `ownScope`
    /// (`?scope=own`): only that group's comments and questions (with every other event).
    func subscribeEvents(
        user: String,
        via: String? = nil,
        ownScope: Bool = false,
        channel: any Channel,
        framing: ViewerFraming,
        after: UInt64,
        ticket: ViewerTicket? = nil
    ) -> EventLoopFuture<Void> {
        let from = Int(min(after, publishedSeq))
        let viewing = via ?? group
        var backlog: [ByteBuffer] = []
        backlog.reserveCapacity(Int(publishedSeq) - from)
        for index in from..<Int(publishedSeq)
        where !ownScope || Self.shows(allEvents[index], to: viewing, sessionGroup: group) {
            backlog.append(rendered[index])
        }
        let fanout: FanoutGroup
        if ownScope {
            fanout = scopedFanouts[viewing] ?? FanoutGroup()
            scopedFanouts[viewing] = fanout
        } else {
            fanout = eventFanout
        }
        let metrics = self.metrics
        return addViewer(
            user: user,
            via: via,
            // A viewer resuming ahead of this replica (it read further elsewhere) must not get
            // again what it has: it starts after the later of the two.
            startAfterSeq: max(publishedSeq, after),
            initial: [ByteBuffer(string: "retry: 1000\n\n")] + backlog,
            channel: channel,
            framing: framing,
            policy: .disconnectWhenBehind,
            to: fanout,
            counted: metrics.eventViewers,
            ticket: ticket,
            onSkip: { metrics.viewersDisconnected.increment() }
        )
    }

    /// A viewer of this session, started with `initial`, added to `fanout` (and counted) and
    /// removed again when it ends; when the session has ended, it only gets `initial`. Returns
    /// the future of its end.
    func addViewer(
        user: String,
        via: String? = nil,
        startAfterSeq: UInt64,
        initial: [ByteBuffer],
        channel: any Channel,
        framing: ViewerFraming,
        policy: DirectViewer.Policy,
        to fanout: FanoutGroup,
        counted gauge: Meter,
        ticket: ViewerTicket? = nil,
        onSkip: @escaping @Sendable () -> Void
    ) -> EventLoopFuture<Void> {
        // The user's place is held until the viewer ends, then freed with the ticket.
        if let ticket { viewerDone(channel).whenComplete { _ in withExtendedLifetime(ticket) {} } }
        nextViewerID += 1
        let viewer = DirectViewer(
            id: nextViewerID,
            user: user,
            via: via,
            startAfterSeq: startAfterSeq,
            channel: channel,
            framing: framing,
            policy: policy,
            limitBytes: policy == .skipToKeyframe ? settings.mediaQueueBytes : settings.eventQueueBytes,
            onSkip: onSkip
        )
        viewer.activate(initial: initial)
        guard session.state.phase != .ended, !relay.detached else {
            viewer.finish()
            return viewer.done.futureResult
        }
        fanout.add(viewer)
        gauge.increment()
        updateViewers()
        let id = viewer.id
        viewer.done.futureResult.whenComplete { _ in
            Task { await self.removeViewer(id, from: fanout, counted: gauge) }
        }
        return viewer.done.futureResult
    }

    func removeViewer(_ id: UInt64, from fanout: FanoutGroup, counted gauge: Meter) {
        guard fanout.remove(id) != nil else { return }
        gauge.decrement()
        updateViewers()
    }

    /// Registers a media viewer writing to `channel` and starts it atomically with what the
    /// format starts with (`stream.ts`: PAT/PMT and the cached GOP; `stream.mp4`: the init
    /// segment and the fragments since the latest keyframe): what is fanned out after this
    /// instant follows. A viewer that falls behind skips to the next keyframe (or init segment);
    /// it never slows the ingest. Returns the future of its end.
    func subscribeMedia(
        _ format: MediaFormat,
        user: String,
        via: String? = nil,
        channel: any Channel,
        framing: ViewerFraming,
        ticket: ViewerTicket? = nil
    ) -> EventLoopFuture<Void> {
        let metrics = self.metrics
        return addViewer(
            user: user,
            via: via,
            startAfterSeq: format == .ts ? media.chunkSeq : media.mp4.pieceSeq,
            initial: format == .ts ? media.startChunks : media.mp4.startPieces,
            channel: channel,
            framing: framing,
            policy: .skipToKeyframe,
            to: format == .ts ? mediaFanout : media.mp4.fanout,
            counted: metrics.mediaViewers,
            ticket: ticket,
            onSkip: { metrics.gopsSkipped.increment() }
        )
    }

    /// Whether a viewer watching from `viewing` with `?scope=own` gets `event`: every event but
    /// comments and questions written from another group.
    static func shows(_ event: LiveEvent, to viewing: String, sessionGroup: String) -> Bool {
        guard event.type == .comment || event.type == .question else { return true }
        return (event.group ?? sessionGroup) == viewing
    }

    /// Closes the event viewers (every scope) that `filter` picks.
    func finishEventViewers(where filter: @escaping @Sendable (DirectViewer) -> Bool = { _ in true }) {
        for _ in eventFanout.finish(where: filter) { metrics.eventViewers.decrement() }
        for fanout in scopedFanouts.values {
            for _ in fanout.finish(where: filter) { metrics.eventViewers.decrement() }
        }
    }

    /// Closes the media viewers (`stream.ts` and `stream.mp4`) that `filter` picks.
    func finishMediaViewers(where filter: @escaping @Sendable (DirectViewer) -> Bool = { _ in true }) {
        for _ in mediaFanout.finish(where: filter) { metrics.mediaViewers.decrement() }
        for _ in media.mp4.fanout.finish(where: filter) { metrics.mediaViewers.decrement() }
    }

    /// The future of the end of a viewer on `channel`: its close.
    private func viewerDone(_ channel: any Channel) -> EventLoopFuture<Void> { channel.closeFuture }

    // MARK: Viewers per user

    /// Takes one of `user`'s viewer places (`LiveSettings.maxViewersPerUser`), or nil when they
    /// hold them all. The place is freed when the returned ticket is released: by the viewer's
    /// end, or with the response if it never became a viewer (a HEAD, a failed write).
    func admitViewer(user: String) -> ViewerTicket? {
        let held = viewersByUser[user, default: 0]
        guard held < settings.maxViewersPerUser else { return nil }
        viewersByUser[user] = held + 1
        return ViewerTicket(host: self, user: user)
    }

    func releaseViewer(user: String) {
        let left = viewersByUser[user, default: 1] - 1
        viewersByUser[user] = left > 0 ? left : nil
    }

    // MARK: Stats and pings

    /// Viewers held here: event, `stream.ts` and `stream.mp4` streams.
    var viewerCount: Int {
        eventFanout.count + scopedFanouts.values.reduce(0) { $0 + $1.count } + mediaFanout.count
            + media.mp4.fanout.count
    }

    func updateViewers() {
        session.setViewers(viewerCount)
        statsDirty = true
    }

    /// Called about once a second: a `stats` event if anything changed, `: ping` every 15 s.
    func tick() {
        expireDownstream(now: .now)
        flushLikes()
        expireDueRedPackets()
        if statsDirty {
            statsDirty = false
            let s = session.state
            let line = ByteBuffer(string: Self.statsLine(s))
            eventFanout.broadcast(line)
            for fanout in scopedFanouts.values { fanout.broadcast(line) }
        }
        if ContinuousClock.now - lastPing >= settings.pingInterval {
            lastPing = ContinuousClock.now
            let ping = ByteBuffer(string: ": ping\n\n")
            eventFanout.broadcast(ping)
            for fanout in scopedFanouts.values { fanout.broadcast(ping) }
        }
    }

    /// The `stats` event: `likes`, `tipsByCurrency` (minor units per currency), `tipsCurrency`
    /// (the one `tipsTotal` counts, null before any tip), `tipsTotal`, `viewers`; keys sorted.
    /// `clicks` (product id → users who clicked it) once the live has products.
    static func statsLine(_ s: LiveSessionState) -> String {
        let byCurrency = s.tipsByCurrency.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }
        let currency = s.tipsCurrency.map { "\"\($0)\"" } ?? "null"
        let clicks =
            s.products.isEmpty
            ? ""
            : "\"clicks\":{"
                + s.productOrder.map { "\"\($0)\":\(s.products[$0]?.clicks.count ?? 0)" }.joined(separator: ",") + "},"
        return "event: stats\ndata: {" + clicks
            + "\"likes\":\(s.likes),\"tipsByCurrency\":{\(byCurrency.joined(separator: ","))},"
            + "\"tipsCurrency\":\(currency),\"tipsTotal\":\(s.tipsTotal),\"viewers\":\(s.viewers)}\n\n"
    }

    /// Whether `user` with `role` in the group is shut out of this session by a kick.
    func isKicked(_ user: String, role: LiveRole?) -> Bool {
        let state = session.state
        return state.isKicked(user, rank: LiveRank(role: role ?? .member, user: user, host: state.info.host))
    }

    /// One event as SSE: `id`, `event`, `data` lines.
    static func sse(_ event: LiveEvent) -> ByteBuffer {
        ByteBuffer(string: "id: \(event.seq)\nevent: \(event.type.rawValue)\ndata: \(event.apiJSON())\n\n")
    }
}

/// One held viewer place of a user on a session (`SessionHost.admitViewer`); freed when the
/// last reference goes, whatever path the request took.
final class ViewerTicket: Sendable {
    let host: SessionHost
    let user: String

    init(host: SessionHost, user: String) {
        self.host = host
        self.user = user
    }

    deinit {
        let host = host
        let user = user
        Task { await host.releaseViewer(user: user) }
    }
}
