import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2

/// Translates one HTTP/2 stream to the HTTP/1 request and response parts the `RequestHandler`
/// speaks, in place of NIO's `HTTP2FramePayloadToHTTP1ServerCodec`, for two costs it has on
/// every request:
/// - a response's end was one more frame: an empty DATA with END_STREAM through the stream, the
///   connection's state machine and the client's decoder. Here the frame written last (HEADERS
///   or DATA) is held until the next write, flush or close, and the end is folded into it: a
///   response in memory goes out as HEADERS + DATA(END_STREAM), a bodiless one as a single
///   HEADERS(END_STREAM). Nothing waits past the flush its writer asked for.
/// - response headers were copied twice (into `HTTPHeaders`, then `HPACKHeaders`) and every name
///   lowercased; here they are copied once, a name lowercased only if it has an upper-case letter.
///
/// The request side is NIO's, rule for rule: the pseudo-headers must be present once each and
/// hold no control character or space (a `:path` becomes an HTTP/1 request target);
/// `:authority` becomes `host` unless one was sent; a request that may carry a body and does not
/// say its length gets `content-length: 0` when the stream already ended, `transfer-encoding:
/// chunked` otherwise; a second header block is the trailers. The HTTP/2 handler has already
/// validated the block (RFC 9113 §8.3) before it gets here.
final class HTTP2StreamCodec: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTP2Frame.FramePayload

    private var sawHead = false
    private var held: (payload: HTTP2Frame.FramePayload, promise: EventLoopPromise<Void>?)?

    // MARK: Request

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let block):
            if sawHead {
                context.fireChannelRead(wrapInboundOut(.end(Self.regularHeaders(of: block.headers))))
                return
            }
            do {
                let head = try Self.requestHead(of: block.headers, endStream: block.endStream)
                sawHead = true
                context.fireChannelRead(wrapInboundOut(.head(head)))
                if block.endStream { context.fireChannelRead(wrapInboundOut(.end(nil))) }
            } catch {
                context.fireErrorCaught(error)
            }
        case .data(let data):
            guard case .byteBuffer(let bytes) = data.data else { return }  // never from the network
            if !data.endStream {
                context.fireChannelRead(wrapInboundOut(.body(bytes)))
            } else {
                if bytes.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(.body(bytes))) }
                context.fireChannelRead(wrapInboundOut(.end(nil)))
            }
        default:
            break  // any other frame is the stream's or the connection's business, as in NIO's codec
        }
    }

    static func requestHead(of headers: HPACKHeaders, endStream: Bool) throws -> HTTPRequestHead {
        var method: String?
        var path: String?
        var scheme: String?
        var authority: String?
        var regular: [(String, String)] = []
        regular.reserveCapacity(headers.count)
        var hasHost = false
        var hasLength = false
        for (name, value, _) in headers {
            guard name.utf8.first == UInt8(ascii: ":") else {
                if name == "host" { hasHost = true }
                if name == "content-length" { hasLength = true }
                regular.append((name, value))
                continue
            }
            switch name {
            case ":method": try set(&method, name, value)
            case ":path": try set(&path, name, value)
            case ":scheme": try set(&scheme, name, value)
            case ":authority": try set(&authority, name, value)
            default: break
            }
        }
        guard let method else { throw NIOHTTP2Errors.missingPseudoHeader(":method") }
        guard let path else { throw NIOHTTP2Errors.missingPseudoHeader(":path") }
        guard scheme != nil else { throw NIOHTTP2Errors.missingPseudoHeader(":scheme") }
        guard let authority else { throw NIOHTTP2Errors.missingPseudoHeader(":authority") }
        let httpMethod = HTTPMethod(rawValue: method)
        var extra: [(String, String)] = []
        if !hasHost { extra.append(("host", authority)) }
        switch httpMethod {
        case .GET, .HEAD, .DELETE, .CONNECT, .TRACE:
            break  // no body is expected; a length sent is kept
        default:
            if !hasLength { extra.append(endStream ? ("content-length", "0") : ("transfer-encoding", "chunked")) }
        }
        return HTTPRequestHead(
            version: .http2,
            method: httpMethod,
            uri: path,
            headers: HTTPHeaders(extra.isEmpty ? regular : extra + regular)
        )
    }

    private static func set(_ slot: inout String?, _ name: String, _ value: String) throws {
        guard slot == nil else { throw NIOHTTP2Errors.duplicatePseudoHeader(name) }
        guard !value.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
            throw NIOHTTP2Errors.invalidPseudoHeaderValue(name: name, value: value)
        }
        slot = value
    }

    private static func regularHeaders(of headers: HPACKHeaders) -> HTTPHeaders {
        HTTPHeaders(headers.compactMap { name, value, _ in name.utf8.first == UInt8(ascii: ":") ? nil : (name, value) })
    }

    // MARK: Response

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let payload: HTTP2Frame.FramePayload
        switch unwrapOutboundIn(data) {
        case .head(let head):
            payload = .headers(.init(headers: Self.headerBlock(of: head.headers, status: head.status.code)))
        case .body(let body):
            payload = .data(.init(data: body))
        case .end(.some(let trailers)):
            writeHeld(context: context)
            let block = Self.headerBlock(of: trailers, status: nil)
            context.write(wrapOutboundOut(.headers(.init(headers: block, endStream: true))), promise: promise)
            return
        case .end(.none):
            if let (last, lastPromise) = held {
                held = nil
                if let lastPromise, let promise { lastPromise.futureResult.cascade(to: promise) }
                context.write(wrapOutboundOut(Self.ending(last)), promise: lastPromise ?? promise)
            } else {
                let empty = context.channel.allocator.buffer(capacity: 0)
                context.write(
                    wrapOutboundOut(.data(.init(data: .byteBuffer(empty), endStream: true))),
                    promise: promise
                )
            }
            return
        }
        writeHeld(context: context)
        held = (payload, promise)
    }

    func flush(context: ChannelHandlerContext) {
        writeHeld(context: context)
        context.flush()
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        writeHeld(context: context)
        context.close(mode: mode, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        held?.promise?.fail(ChannelError.ioOnClosedChannel)
        held = nil
    }

    private func writeHeld(context: ChannelHandlerContext) {
        guard let (last, promise) = held else { return }
        held = nil
        context.write(wrapOutboundOut(last), promise: promise)
    }

    /// `payload` (a held HEADERS or DATA frame) with END_STREAM set.
    private static func ending(_ payload: HTTP2Frame.FramePayload) -> HTTP2Frame.FramePayload {
        switch payload {
        case .headers(var headers):
            headers.endStream = true
            return .headers(headers)
        case .data(var data):
            data.endStream = true
            return .data(data)
        default:
            return payload
        }
    }

    /// HTTP/1 headers as an HTTP/2 block: names lowercased, the headers of HTTP/1 connection
    /// management left out (RFC 9113 §8.2.2), `:status` first for a response head.
    static func headerBlock(of headers: HTTPHeaders, status: UInt?) -> HPACKHeaders {
        var block = HPACKHeaders()
        block.reserveCapacity(headers.count + 1)
        if let status { block.add(name: ":status", value: String(status)) }
        for (name, value) in headers {
            let lower =
                name.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") })
                ? name.lowercased() : name
            if isConnectionSpecific(lower) { continue }
            block.add(name: lower, value: value)
        }
        return block
    }

    private static func isConnectionSpecific(_ name: String) -> Bool {
        switch name {
        case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade": return true
        default: return false
        }
    }
}
