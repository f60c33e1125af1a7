import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Shard
import Synchronization
import Wire

/// Node-to-node links: one long-lived HTTP/2 request stream (`POST /internal/v1/link`) to each
/// peer, on the shared peer connection, carrying every replication message and media relay for
/// that peer as length-framed batches, LZ4-compressed when that pays (`BatchFrame`).
///
/// One queue and one sender per destination node: a message is encoded once per destination,
/// never per viewer, and whatever queues while a batch is on the wire leaves in the next one.
/// A broken stream is re-opened with back-off; what was queued meanwhile is sent then (the
/// replication protocol tolerates late, lost and repeated messages).
final class PeerLinks: ReplicationTransport, Service, Sendable {
    /// Link settings with LAN defaults.
    struct Settings: Sendable {
        /// Bytes queued per peer before new messages are dropped. Default 8 MiB: ~30 s of a
        /// 2 Mb/s stream, far more than a healthy link ever holds.
        var queueLimitBytes = 8 << 20
        /// Largest frame payload accepted from a peer. Default 16 MiB (above the queue limit).
        var maxFramePayload = 16 << 20
        /// Back-off between reconnects: doubles from the first value up to the second.
        var reconnectBackoff: (Duration, Duration) = (.milliseconds(20), .seconds(1))
        var compression = BatchFrame.Options()
        init() {}
    }

    static let route = "/internal/v1/link"

    private let nodeID: String
    private let peers: PeerClient
    private let view: ClusterView
    private let settings: Settings
    private let metrics: ReplicationMetrics
    private let logger: Logger
    private let queues = Mutex<[String: LinkQueue]>([:])
    private let newPeers: AsyncStream<(String, LinkQueue)>
    private let newPeersContinuation: AsyncStream<(String, LinkQueue)>.Continuation

    init(
        nodeID: String,
        peers: PeerClient,
        view: ClusterView,
        settings: Settings = Settings(),
        metrics: ReplicationMetrics,
        logger: Logger
    ) {
        self.nodeID = nodeID
        self.peers = peers
        self.view = view
        self.settings = settings
        self.metrics = metrics
        self.logger = logger
        (newPeers, newPeersContinuation) = AsyncStream.makeStream()
    }

    // MARK: ReplicationTransport

    func send(_ message: ReplicationMessage, group: String, to node: String) {
        enqueue(.replication(group: group, message), to: node)
    }

    func relayMedia(_ bytes: ByteBuffer, group: String, session: String, to nodes: [String]) {
        for node in nodes {
            if enqueue(.media(group: group, session: session, bytes), to: node) {
                metrics.mediaBytesRelayed.increment(by: Int64(bytes.readableBytes))
            }
        }
    }

    func sendRelay(_ message: LinkMessage, to node: String) {
        enqueue(message, to: node)
    }

    /// A draining replica asks `primary` to replace it.
    func sendLeaving(group: String, session: String, to primary: String) {
        enqueue(.leaving(group: group, session: session, node: nodeID), to: primary)
    }

    /// A primary tells `node` it is no longer a replica of the session.
    func sendRemoved(group: String, session: String, epoch: UInt64, to node: String) {
        enqueue(.removed(group: group, session: session, node: node, epoch: epoch), to: node)
    }

    @discardableResult
    private func enqueue(_ message: LinkMessage, to node: String) -> Bool {
        guard node != nodeID else { return false }
        let (queue, created) = queues.withLock { queues -> (LinkQueue, Bool) in
            if let queue = queues[node] { return (queue, false) }
            let queue = LinkQueue(limitBytes: settings.queueLimitBytes)
            queues[node] = queue
            return (queue, true)
        }
        if created { newPeersContinuation.yield((node, queue)) }
        guard queue.push(message) else {
            metrics.messagesDropped.increment()
            return false
        }
        return true
    }

    /// Bytes queued per peer, for metrics.
    func queuedBytes() -> [String: Int] {
        queues.withLock { $0.mapValues(\.queuedBytes) }
    }

    // MARK: Senders

    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask {
                try? await gracefulShutdown()
                self.newPeersContinuation.finish()
            }
            for await (node, queue) in self.newPeers {
                group.addTask { await self.sender(to: node, queue: queue) }
            }
            group.cancelAll()
        }
    }

    private func sender(to node: String, queue: LinkQueue) async {
        var backoff = settings.reconnectBackoff.0
        while !Task.isCancelled {
            guard let address = view.snapshot.members.first(where: { $0.id.rawValue == node })?.address else {
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
            let sent = SentCount()
            do {
                try await stream(to: address, node: node, queue: queue, sent: sent)
            } catch {
                logger.debug("link to \(node) broke", metadata: ["error": "\(error)"])
            }
            if sent.value.load(ordering: .relaxed) > 0 { backoff = settings.reconnectBackoff.0 }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, settings.reconnectBackoff.1)
        }
    }

    private func stream(to address: String, node: String, queue: LinkQueue, sent: SentCount) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "host", value: address)
        headers.add(name: "content-type", value: "application/x-qunbo-frame")
        headers.add(name: "qunbo-node", value: nodeID)
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: Self.route, headers: headers)
        let options = settings.compression
        let metrics = self.metrics
        let peers = self.peers
        // Batches are written from `push` straight to the stream (`LinkQueue.DirectSink`); with
        // `--fault-injection` a handler on the stream delays or drops them, so chaos runs use the
        // same path.
        defer { queue.detach() }
        /// One batch as a frame, counted as sent.
        let frame: @Sendable (ByteBuffer) -> HTTPClientRequestPart = { payload in
            var frame = ByteBuffer()
            let result = BatchFrame.encode(payload, into: &frame, options: options)
            metrics.batchesSent.increment()
            metrics.rawBytesSent.increment(by: Int64(result.rawBytes))
            metrics.wireBytesSent.increment(by: Int64(result.wireBytes))
            sent.value.add(1, ordering: .relaxed)
            return .body(.byteBuffer(frame))
        }
        let faults = peers.faults
        try await peers.exchange(to: address) { outbound, channel in
            try await outbound.write(.head(head))
            try await channel.eventLoop.submit {
                let sync = channel.pipeline.syncOperations
                try sync.addHandler(WritabilityRelay { queue.resume() }, position: .first)
                if let faults { try sync.addHandler(FaultInjectionHandler(faults: faults, node: node)) }
            }.get()
            queue.attach(
                LinkQueue.DirectSink(
                    loop: channel.eventLoop,
                    isWritable: { channel.isWritable },
                    write: { payload in channel.writeAndFlush(frame(payload), promise: nil) }
                )
            )
        } receive: { inbound in
            while let part = try await inbound.next() {
                if case .end = part { return }
            }
        }
    }

    // MARK: Receiving

    /// The route handler: reads frames until the peer closes the stream and hands every message
    /// to `deliver`, in order (media chunks must reach the replica's demuxer in sequence).
    func handle(_ request: Request, deliver: @Sendable (LinkMessage, String) async -> Void) async throws -> Response {
        guard request.peer != nil else {
            throw PeerGate.notAPeer
        }
        // The sender is who signed the request, not what a header claims.
        let sender = request.peer ?? "?"
        do {
            try await receive(request.body, from: sender, deliver: deliver)
        } catch let error as APIError {
            throw error
        } catch {
            // The peer closed or reset its stream (it restarts it): the end of a link, not a fault.
            logger.debug("link from \(sender) ended", metadata: ["error": "\(error)"])
        }
        return Response(status: .noContent)
    }

    private func receive(
        _ body: RequestBody,
        from sender: String,
        deliver: @Sendable (LinkMessage, String) async -> Void
    ) async throws {
        var buffer = ByteBuffer()
        for try await var chunk in body {
            buffer.writeBuffer(&chunk)
            while true {
                let payload: ByteBuffer?
                do {
                    payload = try BatchFrame.decode(from: &buffer, maxPayload: settings.maxFramePayload)
                } catch {
                    metrics.messagesDropped.increment()
                    logger.warning(
                        "bad link frame; closing the link",
                        metadata: ["link.peer": "\(sender)", "error": "\(error)"]
                    )
                    throw APIError.badRequest("bad link frame: \(error)", code: "bad_frame")
                }
                guard let payload else { break }
                let messages: [LinkMessage]
                do {
                    messages = try LinkMessage.decodeAll(payload)
                } catch {
                    metrics.messagesDropped.increment()
                    logger.warning(
                        "bad link message dropped",
                        metadata: ["link.peer": "\(sender)", "error": "\(error)"]
                    )
                    continue
                }
                metrics.messagesReceived.increment(by: Int64(messages.count))
                for message in messages { await deliver(message, sender) }
            }
            buffer.discardReadBytes()
        }
    }
}

/// Tells the link queue when its stream takes writes again.
private final class WritabilityRelay: ChannelInboundHandler, Sendable {
    typealias InboundIn = Any
    let onWritable: @Sendable () -> Void

    init(_ onWritable: @escaping @Sendable () -> Void) { self.onWritable = onWritable }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { onWritable() }
        context.fireChannelWritabilityChanged()
    }
}

/// Frames written on one link stream: a stream that carried any resets the reconnect back-off.
private final class SentCount: Sendable {
    let value = Atomic<Int>(0)
}
