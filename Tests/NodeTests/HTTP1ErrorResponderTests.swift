import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import Node

/// The HTTP/1.1 error responder on NIO's real server pipeline (an embedded channel).
@Suite("HTTP/1.1 error responder")
struct HTTP1ErrorResponderTests {
    /// A client that vanishes mid-body (an ffmpeg ingest killed): the decoder reports an unexpected
    /// end, the responder answers 400, and the route's own late answer to the same request is
    /// dropped. Two responses trapped NIO's pipeline handler: a node crash seen in CI.
    @Test("a route's answer after the responder answered a broken request is dropped, not a second response")
    func lateRouteAnswerDropped() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: false)
        try channel.pipeline.syncOperations.addHandler(HTTP1ErrorResponder(nodeID: "n1"))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(
            ByteBuffer(string: "POST /v1/groups/g/live/ingest HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc")
        )
        #expect(try channel.readInbound(as: HTTPServerRequestPart.self) != nil)  // the head
        // The client is gone: end of input in the middle of the body.
        channel.pipeline.fireChannelInactive()
        var written = ByteBuffer()
        while var part = try channel.readOutbound(as: ByteBuffer.self) { written.writeBuffer(&part) }
        #expect(String(buffer: written).hasPrefix("HTTP/1.1 400 Bad Request"))

        // The route, seeing its body fail, answers too: refused, and nothing more is written.
        let late = channel.write(HTTPServerResponsePart.head(.init(version: .http1_1, status: .conflict)))
        channel.flush()
        #expect(throws: (any Error).self) { try late.wait() }
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        _ = try? channel.finish()
    }
}
