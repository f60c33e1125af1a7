import NIOCore
import NIOHTTP1
import NIOSSL

/// How this node dials peers over TLS: the client side of node-to-node TLS.
///
/// Scheme discovery: a peer's address is the base URL it advertises (`--advertise`, default
/// `https://` + `--listen` when it has `--tls-cert`), so members learned through gossip carry
/// their scheme; seeds are given as HOST:PORT and are dialed with this node's own scheme
/// (`NodeConfig.peerScheme`). A node with TLS dials only `https://`: a member advertising
/// `http://` is refused rather than sent client tokens in clear text (no mixed clusters).
public struct PeerTLS: Sendable {
    let context: NIOSSLContext
    /// Whether `http://` peers are refused (this node has TLS itself).
    let requireTLS: Bool

    /// Builds the client context: server certificates verified (chain and host name or IP) against
    /// `--peer-ca` or the system roots, ALPN `h2`, and the `--peer-cert` client certificate
    /// when mutual TLS is configured. Throws `ServerError.tls` on unreadable material.
    public init(config: NodeConfig) throws(ServerError) {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.applicationProtocols = ["h2"]
        tls.certificateVerification = .fullVerification
        tls.minimumTLSVersion = .tlsv12
        do {
            if let ca = config.peerCA {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca))
            }
            if let certPath = config.peerCert, let keyPath = config.peerKey {
                tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certPath).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem))
            }
            context = try NIOSSLContext(configuration: tls)
        } catch {
            throw .tls("peer TLS (--peer-ca, --peer-cert, --peer-key): \(error)")
        }
        requireTLS = config.tlsEnabled
    }

    /// The TLS handler for a connection to `host`: SNI and name check for a DNS name; for an IP
    /// address (no SNI allowed) NIOSSL checks the certificate's IP SANs against the connected
    /// address.
    func handler(host: String) throws -> NIOSSLClientHandler {
        try Self.clientHandler(context: context, host: host)
    }

    /// The same for any client context (webhook deliveries use the system roots).
    static func clientHandler(context: NIOSSLContext, host: String) throws -> NIOSSLClientHandler {
        let isIP = (try? SocketAddress(ipAddress: host, port: 0)) != nil
        return try NIOSSLClientHandler(context: context, serverHostname: isIP ? nil : host)
    }
}

/// Adds the `Qunbo-Peer-Auth` signature (`PeerAuth`) to the head of every request this node
/// sends to a peer. It sits in each outbound HTTP/2 stream's pipeline, so no caller can forget it
/// and every node-to-node request (gossip, links, lookups, forwarded writes and ingest, relayed
/// viewers, drain notices) is signed the same way.
final class PeerSigningHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private let auth: PeerAuth

    init(auth: PeerAuth) {
        self.auth = auth
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .head(var head) = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        head.headers.replaceOrAdd(name: PeerAuth.header, value: auth.sign(method: head.method, uri: head.uri))
        context.write(wrapOutboundOut(.head(head)), promise: promise)
    }
}
