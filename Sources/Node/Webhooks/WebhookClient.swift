import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Why one webhook delivery attempt failed. Every case is retryable by the sender except a bad
/// URL or scheme, which config validation refuses at start.
public enum WebhookClientError: Error, Sendable, Equatable, CustomStringConvertible {
    case badURL(String)
    case unsupportedScheme(String)
    case connect(String)
    case timedOut
    case protocolError(String)

    public var description: String {
        switch self {
        case .badURL(let why): return "bad webhook URL: \(why)"
        case .unsupportedScheme(let scheme): return "unsupported webhook URL scheme \(scheme) (use http:// or https://)"
        case .connect(let why): return "cannot connect: \(why)"
        case .timedOut: return "timed out"
        case .protocolError(let why): return "bad HTTP answer: \(why)"
        }
    }
}

/// Posts webhook deliveries: one HTTP/1.1 request on a fresh TCP (or TLS) connection per attempt.
///
/// A fresh connection each time because deliveries are rare next to media traffic, receivers
/// are arbitrary servers (proxies, serverless endpoints) that drop idle connections at will, and
/// a pool would be one more state to reason about when a receiver is slow. The answer's body is
/// read only so the receiver is not reset mid-write, and is discarded: only the status counts.
public struct WebhookClient: Sendable {
    /// Response bytes read and thrown away before giving up on the rest.
    static let maxDiscardedBytes = 64 << 10

    typealias Connection = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
    public typealias Target = (scheme: String, host: String, port: Int, path: String)

    private let group: any EventLoopGroup

    public init(group: any EventLoopGroup) {
        self.group = group
    }

    /// POSTs `body` as JSON to `url` and returns the answer's status code. `timeout` bounds the
    /// whole attempt up to the response head (connect, TLS, write, wait); a body still arriving
    /// then is abandoned and the status stands.
    public func post(
        url: String,
        body: ByteBuffer,
        headers: [(String, String)] = [],
        timeout: Duration
    ) async throws(WebhookClientError) -> Int {
        let target = try Self.parse(url: url)
        let started = ContinuousClock.now
        let connection = try await connect(target, timeout: timeout)
        let channel = connection.channel
        // The deadline closes the channel, which ends the write or read in progress.
        let expired = NIOLockedValueBox(false)
        let left = max(timeout - (ContinuousClock.now - started), .zero)
        let deadline = channel.eventLoop.scheduleTask(in: TimeAmount(left)) {
            expired.withLockedValue { $0 = true }
            channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        let head = Self.requestHead(target, headers: headers, contentLength: body.readableBytes)
        do {
            return try await connection.executeThenClose { inbound, outbound in
                try await outbound.write(contentsOf: [.head(head), .body(.byteBuffer(body)), .end(nil)])
                return try await Self.status(of: inbound)
            }
        } catch {
            if expired.withLockedValue({ $0 }) { throw .timedOut }
            if let error = error as? WebhookClientError { throw error }
            // The TLS handshake runs on the first write: its failures are connection failures.
            if error is NIOSSLError || error is BoringSSLError { throw .connect("TLS with \(target.host): \(error)") }
            // On a loaded machine the handshake's failure can surface as the channel closing
            // under the first write rather than as the TLS error (found by a CI run at load 38):
            // with no answer read, a closed channel on https is a failed connection too.
            if target.scheme == "https", let closed = error as? ChannelError,
                closed == .ioOnClosedChannel || closed == .eof
            {
                throw .connect("TLS with \(target.host): the connection closed during the handshake (\(closed))")
            }
            throw .protocolError("\(error)")
        }
    }

    /// Splits an `http://` or `https://` URL into what a delivery needs; the node validates
    /// `--webhook-url` with it at start. Refuses what would be ambiguous on the wire: spaces or
    /// control characters, credentials in the URL, an empty host, port 0.
    public static func parse(url: String) throws(WebhookClientError) -> Target {
        guard url.utf8.count <= 4_096 else { throw .badURL("longer than 4096 bytes") }
        guard !url.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) else {
            throw .badURL("\(url): contains spaces or control characters")
        }
        guard let separator = url.range(of: "://") else { throw .badURL("\(url): no http:// or https://") }
        let scheme = url[..<separator.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { throw .unsupportedScheme(scheme) }
        var rest = url[separator.upperBound...]
        if let fragment = rest.firstIndex(of: "#") { rest = rest[..<fragment] }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = String(rest[..<authorityEnd])
        let path = rest[authorityEnd...].hasPrefix("/") ? String(rest[authorityEnd...]) : "/" + rest[authorityEnd...]
        guard !authority.isEmpty, !authority.hasPrefix(":"), !authority.contains("@") else {
            throw .badURL("\(url): no host, or credentials in the URL")
        }
        // `HostPort` parses `host:port` and `[v6]:port`; a bare host gets the scheme's port.
        let hasPort = !authority.hasSuffix("]") && authority.contains(":")
        let defaultPort = scheme == "https" ? 443 : 80
        guard let hostPort = HostPort(parsing: hasPort ? authority : "\(authority):\(defaultPort)"),
            !hostPort.host.isEmpty, hostPort.port > 0
        else { throw .badURL("\(url): bad host or port") }
        return (scheme, hostPort.host, hostPort.port, path)
    }

    private func connect(_ target: Target, timeout: Duration) async throws(WebhookClientError) -> Connection {
        let tls = target.scheme == "https" ? try Self.tlsContext.get() : nil
        do {
            return try await ClientBootstrap(group: group)
                .connectTimeout(TimeAmount(timeout))
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connect(host: target.host, port: target.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        if let tls { try sync.addHandler(PeerTLS.clientHandler(context: tls, host: target.host)) }
                        try sync.addHTTPClientHandlers()
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch ChannelError.connectTimeout {
            throw .timedOut
        } catch {
            throw .connect("\(target.host):\(target.port): \(error)")
        }
    }

    /// The system's trust roots, host name checked: made once, loading the roots is slow.
    private static let tlsContext: Result<NIOSSLContext, WebhookClientError> = {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        do {
            return .success(try NIOSSLContext(configuration: configuration))
        } catch {
            return .failure(.connect("cannot set up TLS: \(error)"))
        }
    }()

    static func requestHead(_ target: Target, headers: [(String, String)], contentLength: Int) -> HTTPRequestHead {
        let host = target.host.contains(":") ? "[\(target.host)]" : target.host
        let isDefaultPort = target.port == (target.scheme == "https" ? 443 : 80)
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: target.path)
        head.headers.add(name: "Host", value: isDefaultPort ? host : "\(host):\(target.port)")
        head.headers.add(name: "User-Agent", value: "qunbo-webhooks/1")
        head.headers.add(name: "Content-Type", value: "application/json")
        for (name, value) in headers { head.headers.replaceOrAdd(name: name, value: value) }
        head.headers.replaceOrAdd(name: "Content-Length", value: String(contentLength))
        head.headers.replaceOrAdd(name: "Connection", value: "close")
        return head
    }

    /// The final response's status, once its head is in; the body is read and discarded up to
    /// `maxDiscardedBytes`, and once the status is known a body cut short does not matter.
    static func status(of inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>) async throws -> Int {
        var status: Int?
        var discarded = 0
        do {
            for try await part in inbound {
                switch part {
                case .head(let head):
                    status = Int(head.status.code)
                case .body(let bytes):
                    discarded += bytes.readableBytes
                    if let status, discarded > maxDiscardedBytes { return status }
                case .end:
                    if let status { return status }
                }
            }
        } catch {
            guard let status else { throw error }
            return status
        }
        guard let status else { throw WebhookClientError.protocolError("the connection closed before an answer") }
        return status
    }
}
