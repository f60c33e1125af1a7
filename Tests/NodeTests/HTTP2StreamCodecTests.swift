import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP1
import NIOHTTP2
import Testing

@testable import Node

/// The HTTP/2 stream codec on an embedded channel: NIO's request rules, and a response's end
/// folded into its last frame (never later than the flush its writer asked for).
@Suite("HTTP/2 stream codec")
struct HTTP2StreamCodecTests {
    static func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(HTTP2StreamCodec())
        return channel
    }

    static func request(_ fields: [(String, String)], endStream: Bool = true) -> HTTP2Frame.FramePayload {
        .headers(.init(headers: HPACKHeaders(fields), endStream: endStream))
    }

    static let get = [(":method", "GET"), (":scheme", "http"), (":authority", "n1:7001"), (":path", "/v1/x?a=1")]

    /// What went out, as (kind, endStream, bytes or :status).
    static func sent(_ channel: EmbeddedChannel) throws -> [String] {
        var out: [String] = []
        while let payload = try channel.readOutbound(as: HTTP2Frame.FramePayload.self) {
            switch payload {
            case .headers(let h):
                out.append("HEADERS \(h.headers.first(name: ":status") ?? "-")\(h.endStream ? " END" : "")")
            case .data(let d):
                guard case .byteBuffer(let b) = d.data else {
                    out.append("DATA file")
                    continue
                }
                out.append("DATA \(String(buffer: b))\(d.endStream ? " END" : "")")
            default:
                out.append("other")
            }
        }
        return out
    }

    @Test("a request head: pseudo-headers to method and target, :authority to host, the end follows")
    func requestHead() throws {
        let channel = try Self.channel()
        try channel.writeInbound(Self.request(Self.get + [("accept", "*/*")]))
        guard case .head(let head) = try channel.readInbound(as: HTTPServerRequestPart.self) else {
            Issue.record("no head")
            return
        }
        #expect(head.method == .GET && head.uri == "/v1/x?a=1" && head.version == .http2)
        #expect(head.headers.first(name: "host") == "n1:7001" && head.headers.first(name: "accept") == "*/*")
        #expect(!head.headers.contains(where: { $0.name.hasPrefix(":") }))
        guard case .end(nil) = try channel.readInbound(as: HTTPServerRequestPart.self) else {
            Issue.record("no end")
            return
        }
    }

    @Test("a request with a body and no length says chunked; one ended with its headers says 0")
    func bodyFraming() throws {
        let post = [(":method", "POST"), (":scheme", "http"), (":authority", "n1"), (":path", "/p")]
        for (endStream, expected) in [(false, ("transfer-encoding", "chunked")), (true, ("content-length", "0"))] {
            let channel = try Self.channel()
            try channel.writeInbound(Self.request(post, endStream: endStream))
            guard case .head(let head) = try channel.readInbound(as: HTTPServerRequestPart.self) else {
                Issue.record("no head")
                return
            }
            #expect(head.headers.first(name: expected.0) == expected.1)
        }
    }

    @Test("a missing, repeated or spaced pseudo-header is an error, and no head is read")
    func badPseudoHeaders() throws {
        let cases: [[(String, String)]] = [
            Self.get.filter { $0.0 != ":path" },
            Self.get.filter { $0.0 != ":authority" },
            Self.get + [(":path", "/again")],
            Self.get.map { $0.0 == ":path" ? ($0.0, "/a b") : $0 },
            Self.get.map { $0.0 == ":path" ? ($0.0, "/a\r\nX: y") : $0 },
        ]
        for fields in cases {
            let channel = try Self.channel()
            #expect(throws: (any Error).self, "\(fields)") { try channel.writeInbound(Self.request(fields)) }
            #expect(try channel.readInbound(as: HTTPServerRequestPart.self) == nil)
        }
    }

    @Test("body chunks, then trailers as the end")
    func bodyAndTrailers() throws {
        let channel = try Self.channel()
        try channel.writeInbound(Self.request(Self.get, endStream: false))
        try channel.writeInbound(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(ByteBuffer(string: "ab")))))
        try channel.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: ["x-sum": "1"], endStream: true)))
        _ = try channel.readInbound(as: HTTPServerRequestPart.self)
        guard case .body(let body) = try channel.readInbound(as: HTTPServerRequestPart.self) else {
            Issue.record("no body")
            return
        }
        #expect(String(buffer: body) == "ab")
        guard case .end(let trailers?) = try channel.readInbound(as: HTTPServerRequestPart.self) else {
            Issue.record("no trailers")
            return
        }
        #expect(trailers.first(name: "x-sum") == "1")
    }

    static func head(_ status: HTTPResponseStatus = .ok) -> HTTPServerResponsePart {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain")
        headers.add(name: "Connection", value: "close")
        headers.add(name: "Qunbo-Node", value: "n1")
        return .head(HTTPResponseHead(version: .http2, status: status, headers: headers))
    }

    @Test("a response in memory is HEADERS + DATA(END_STREAM); a bodiless one one HEADERS(END_STREAM)")
    func endFolded() throws {
        let channel = try Self.channel()
        channel.write(Self.head(), promise: nil)
        channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: "hi"))), promise: nil)
        channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
        #expect(try Self.sent(channel) == ["HEADERS 200", "DATA hi END"])

        let bodiless = try Self.channel()
        bodiless.write(Self.head(.noContent), promise: nil)
        bodiless.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
        #expect(try Self.sent(bodiless) == ["HEADERS 204 END"])
    }

    @Test("response headers: names lowercased, HTTP/1 connection headers left out")
    func responseHeaders() throws {
        let channel = try Self.channel()
        channel.writeAndFlush(Self.head(), promise: nil)
        guard case .headers(let block) = try channel.readOutbound(as: HTTP2Frame.FramePayload.self) else {
            Issue.record("no HEADERS")
            return
        }
        #expect(block.headers.map { $0.name } == [":status", "content-type", "qunbo-node"])
    }

    @Test("a streamed response: each flush sends what was written, the end goes with the last chunk")
    func streamedFlushes() throws {
        let channel = try Self.channel()
        channel.writeAndFlush(Self.head(), promise: nil)
        #expect(try Self.sent(channel) == ["HEADERS 200"])
        channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: "a"))), promise: nil)
        #expect(try Self.sent(channel) == ["DATA a"])
        channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: "b"))), promise: nil)
        channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: "c"))), promise: nil)
        #expect(try Self.sent(channel) == [], "written, not flushed")
        let ended = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: ended)
        #expect(try Self.sent(channel) == ["DATA b", "DATA c END"])
        #expect(throws: Never.self) { try ended.futureResult.wait() }
    }

    /// Records what reaches it from above, flushed or not.
    final class WriteRecorder: ChannelOutboundHandler {
        typealias OutboundIn = HTTP2Frame.FramePayload
        var kinds: [String] = []
        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            if case .headers = unwrapOutboundIn(data) { kinds.append("HEADERS") } else { kinds.append("other") }
            context.write(data, promise: promise)
        }
    }

    @Test("a frame held when the stream closes is written before the close, not dropped")
    func heldAtClose() throws {
        let channel = EmbeddedChannel()
        let recorder = WriteRecorder()
        try channel.pipeline.syncOperations.addHandler(recorder)
        try channel.pipeline.syncOperations.addHandler(HTTP2StreamCodec())
        channel.write(Self.head(), promise: nil)
        #expect(recorder.kinds == [], "held")
        try channel.close().wait()
        #expect(recorder.kinds == ["HEADERS"])
    }
}
