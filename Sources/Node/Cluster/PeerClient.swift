import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import Synchronization

/// Why a request to a peer failed. Every case means "the peer did not answer"; callers treat
/// them alike (gossip reports a send failure, writes try another route).
public enum PeerError: Error, Sendable, CustomStringConvertible {
    case badAddress(String)
    case connectFailed(String, String)
    case timedOut(String)
    case streamFailed(String, String)
    case responseTooLarge(String)

    public var description: String {
        switch self {
        case .badAddress(let a): return "bad peer address \(a)"
        case .connectFailed(let a, let why): return "cannot connect to \(a): \(why)"
        case .timedOut(let a): return "request to \(a) timed out"
        case .streamFailed(let a, let why): return "request to \(a) failed: \(why)"
        case .responseTooLarge(let a): return "response from \(a) too large"
        }
    }
}

/// A peer's answer.
public struct PeerResponse: Sendable {
    public var status: HTTPResponseStatus
    public var body: ByteBuffer
    public var headers: HTTPHeaders = HTTPHeaders()

    /// Reads a whole response: its head, a body of at most `limit` bytes, its end.
    static func collect(
        _ inbound: inout NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator,
        limit: Int,
        from address: String
    ) async throws -> PeerResponse {
        var status: HTTPResponseStatus?
        var headers = HTTPHeaders()
        var received = ByteBuffer()
        while let part = try await inbound.next() {
            switch part {
            case .head(let head):
                status = head.status
                headers = head.headers
            case .body(var bytes):
                guard received.readableBytes + bytes.readableBytes <= limit else {
                    throw PeerError.responseTooLarge(address)
                }
                received.writeBuffer(&bytes)
            case .end:
                guard let status else { throw PeerError.streamFailed(address, "no response head") }
                return PeerResponse(status: status, body: received, headers: headers)
            }
        }
        // The stream closed before the response ended: its deadline closed it, or the peer did.
        throw PeerError.timedOut(address)
    }
}

typealias PeerStream = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

/// One long-lived HTTP/2 connection per peer, shared by every request to it (gossip, and later
/// log shipping and forwarding) as concurrent streams. A broken connection is dropped and
/// re-dialed on the next request.
public final class PeerClient: Sendable {
    /// Settings with LAN defaults.
    public struct Settings: Sendable {
        /// Give up dialing after this long. Default 1 s: peers are on a LAN; a slower dial is a
        /// failure signal for gossip.
        public var connectTimeout: TimeAmount = .seconds(1)
        /// Largest response body accepted. Default 8 MiB (a full membership sync is far smaller).
        public var maxResponseBytes: Int = 8 << 20
        public init() {}
    }

    private struct Connection: Sendable {
        let channel: any Channel
        let multiplexer: NIOHTTP2Handler.AsyncStreamMultiplexer<Void>
    }

    private let group: any EventLoopGroup
    private let settings: Settings
    private let logger: Logger
    private let connections = Mutex<[String: EventLoopFuture<Connection>]>([:])
    private let onConnectionLost: @Sendable (String) -> Void
    /// Set only with `--fault-injection`: drops, loses or delays requests to chosen peers.
    let faults: FaultInjector?
    /// Signs every request (nil only without a cluster secret: a lone node that has no peers).
    let auth: PeerAuth?
    /// How `https://` peers are dialed; nil: this node dials `http://` only.
    let tls: PeerTLS?

    /// - Parameter onConnectionLost: called with the peer's address when an established
    ///   connection closes without us closing it (a killed peer's socket is reset at once).
    public init(
        group: any EventLoopGroup,
        settings: Settings = Settings(),
        logger: Logger,
        auth: PeerAuth? = nil,
        tls: PeerTLS? = nil,
        faults: FaultInjector? = nil,
        onConnectionLost: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.faults = faults
        self.auth = auth
        self.tls = tls
        self.group = group
        self.settings = settings
        self.logger = logger
        self.onConnectionLost = onConnectionLost
    }

    /// Sends one request to the peer at `address` (`http://host:port`) and returns its answer.
    public func request(
        _ method: HTTPMethod,
        _ path: String,
        to address: String,
        headers: HTTPHeaders = HTTPHeaders(),
        body: ByteBuffer? = nil,
        timeout: TimeAmount
    ) async throws(PeerError) -> PeerResponse {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)
        head.headers.replaceOrAdd(name: "host", value: address)
        if let body { head.headers.replaceOrAdd(name: "content-length", value: String(body.readableBytes)) }
        let limit = settings.maxResponseBytes
        return try await exchange(to: address, timeout: timeout) { [head] outbound, _ in
            try await outbound.write(.head(head))
            if let body { try await outbound.write(.body(.byteBuffer(body))) }
            try await outbound.write(.end(nil))
        } receive: { inbound in
            try await PeerResponse.collect(&inbound, limit: limit, from: address)
        }
    }

    /// Opens one stream to the peer and runs `send` (writes the request: head, body, end) and
    /// `receive` (reads the response) concurrently, so a long-lived request body (log shipping,
    /// a forwarded ingest) and its response can both stream. Returns what `receive` returns;
    /// `send` is cancelled then if still running.
    public func exchange<R: Sendable>(
        to address: String,
        timeout: TimeAmount? = nil,
        send:
            @escaping @Sendable (NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>, any Channel) async throws -> Void,
        receive:
            @escaping @Sendable (inout NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator)
            async throws -> R
    ) async throws(PeerError) -> R {
        let stream = try await openStream(to: address)
        // A stream that outlives its deadline is closed, which ends its reads and writes.
        let deadline = timeout.map { timeout in
            stream.channel.eventLoop.scheduleTask(in: timeout) { stream.channel.close(promise: nil) }
        }
        defer { deadline?.cancel() }
        do {
            return try await stream.executeThenClose { inbound, outbound in
                try await withThrowingTaskGroup(of: R?.self) { group in
                    group.addTask {
                        try await send(outbound, stream.channel)
                        return nil
                    }
                    group.addTask {
                        var iterator = inbound.makeAsyncIterator()
                        return try await receive(&iterator)
                    }
                    while let result = try await group.next() {
                        if let result {
                            group.cancelAll()
                            return result
                        }
                    }
                    throw PeerError.streamFailed(address, "no response")
                }
            }
        } catch let error as PeerError {
            throw error
        } catch {
            throw .streamFailed(address, "\(error)")
        }
    }

    /// A new HTTP/2 stream on the shared connection to `address`, speaking HTTP/1-style parts.
    private func openStream(to address: String) async throws(PeerError) -> PeerStream {
        if let faults {
            switch faults.verdict(address: address) {
            case .drop: throw .connectFailed(address, "fault injection: message dropped")
            case .deliver(let delay) where delay > .zero: try? await Task.sleep(for: delay)
            case .deliver: break
            }
        }
        let connection = try await connection(to: address)
        let stream: PeerStream
        do {
            let auth = self.auth
            let httpProtocol: HTTP2FramePayloadToHTTP1ClientCodec.HTTPProtocol =
                address.hasPrefix("https://") ? .https : .http
            stream = try await connection.multiplexer.openStream { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: httpProtocol))
                    if let auth { try sync.addHandler(PeerSigningHandler(auth: auth)) }
                    return try PeerStream(wrappingChannelSynchronously: channel)
                }
            }
        } catch {
            drop(address, connection)
            throw .streamFailed(address, "\(error)")
        }
        return stream
    }

    /// Closes every connection (shutdown).
    public func closeAll() async {
        let all = connections.withLock { c in
            defer { c.removeAll() }
            return Array(c.values)
        }
        for future in all {
            if let connection = try? await future.get() { try? await connection.channel.close() }
        }
    }

    private func connection(to address: String) async throws(PeerError) -> Connection {
        guard let (secure, host, port) = Self.parse(address) else { throw .badAddress(address) }
        if secure && tls == nil { throw .badAddress("\(address) (this node has no TLS client set up)") }
        if !secure && tls?.requireTLS == true {
            throw .badAddress("\(address) (a node with TLS dials its peers over https only)")
        }
        let (future, created) = connections.withLock { cache -> (EventLoopFuture<Connection>, Bool) in
            if let existing = cache[address] { return (existing, false) }
            let made = dial(host: host, port: port, tls: secure ? tls : nil)
            cache[address] = made
            return (made, true)
        }
        if created { watch(future, address: address) }
        do {
            let connection = try await future.get()
            guard connection.channel.isActive else {
                drop(address, connection)
                throw PeerError.connectFailed(address, "connection closed")
            }
            return connection
        } catch let error as PeerError {
            throw error
        } catch {
            connections.withLock { cache in
                if cache[address] === future { cache[address] = nil }
            }
            throw .connectFailed(address, "\(error)")
        }
    }

    /// Reports an established connection that closes while still cached (nobody dropped it on
    /// purpose): the peer went away.
    private func watch(_ future: EventLoopFuture<Connection>, address: String) {
        future.whenSuccess { connection in
            connection.channel.closeFuture.whenComplete { _ in
                let unexpected = self.connections.withLock { cache -> Bool in
                    guard let current = cache[address], current === future else { return false }
                    cache[address] = nil
                    return true
                }
                if unexpected { self.onConnectionLost(address) }
            }
        }
    }

    private func dial(host: String, port: Int, tls: PeerTLS?) -> EventLoopFuture<Connection> {
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(settings.connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
        // The HTTP/2 handler goes in the channel initializer, before connect completes: added
        // later, the server's SETTINGS can arrive first and the client hangs (DESIGN.md notes).
        let multiplexerBox = NIOLockedValueBox<NIOHTTP2Handler.AsyncStreamMultiplexer<Void>?>(nil)
        return bootstrap.channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                // TLS first: it buffers the HTTP/2 preface until the handshake (ALPN h2) is done.
                if let tls { try channel.pipeline.syncOperations.addHandler(try tls.handler(host: host)) }
                let multiplexer = try channel.pipeline.syncOperations.configureAsyncHTTP2Pipeline(
                    mode: .client
                ) { stream in
                    stream.eventLoop.makeSucceededVoidFuture()
                }
                multiplexerBox.withLockedValue { $0 = multiplexer }
            }
        }
        .connect(host: host, port: port)
        .flatMapThrowing { channel in
            guard let multiplexer = multiplexerBox.withLockedValue({ $0 }) else {
                channel.close(promise: nil)
                throw PeerError.connectFailed("\(host):\(port)", "no HTTP/2 multiplexer")
            }
            return Connection(channel: channel, multiplexer: multiplexer)
        }
    }

    private func drop(_ address: String, _ connection: Connection) {
        connections.withLock { cache in
            cache[address] = nil
        }
        connection.channel.close(promise: nil)
    }

    /// `http://host:port` or `https://host:port` -> (whether TLS, host, port).
    static func parse(_ address: String) -> (Bool, String, Int)? {
        for (scheme, secure) in [("http://", false), ("https://", true)] where address.hasPrefix(scheme) {
            return HostPort(parsing: String(address.dropFirst(scheme.count))).map { (secure, $0.host, $0.port) }
        }
        return nil
    }
}

extension EventLoopFuture {
    static func === (a: EventLoopFuture, b: EventLoopFuture) -> Bool { ObjectIdentifier(a) == ObjectIdentifier(b) }
}
