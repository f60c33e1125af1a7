import NIOCore
import NIOHTTP2

/// The per-connection limits the server's pipelines are built with (from `NodeConfig`).
struct ConnectionLimits: Sendable {
    let nodeID: String
    let maxStreams: Int
    let headerTimeout: TimeAmount
    let bodyReadTimeout: TimeAmount
    let metrics: ServerMetrics

    init(config: NodeConfig, metrics: ServerMetrics) {
        nodeID = config.id
        maxStreams = config.maxStreams
        headerTimeout = .nanoseconds(config.headerTimeout.nanoseconds)
        bodyReadTimeout = .nanoseconds(config.bodyReadTimeout.nanoseconds)
        self.metrics = metrics
    }

    func bodyDeadline(nodeID: String, header: HeaderDeadline?) -> BodyReadDeadline {
        let metrics = metrics
        return BodyReadDeadline(timeout: bodyReadTimeout, nodeID: nodeID, header: header) {
            metrics.refused("body_timeout")
        }
    }
}

/// A connection the limiter refused: fails its negotiation, so the server never serves it.
struct ConnectionRefusedByLimit: Error {
    var reason: ConnectionLimiter.Refusal
}

/// Counts HTTP/2 connections closed for opening more concurrent streams than SETTINGS allows
/// (NIO answers GOAWAY `PROTOCOL_ERROR`, RFC 9113 §5.1.2).
final class StreamLimitObserver: ChannelInboundHandler {
    typealias InboundIn = Any
    private let metrics: ServerMetrics

    init(metrics: ServerMetrics) { self.metrics = metrics }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is NIOHTTP2Errors.MaxStreamsViolation { metrics.refused("max_streams") }
        context.fireErrorCaught(error)
    }
}
