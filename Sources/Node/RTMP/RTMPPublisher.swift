import Foundation
import Live
import NIOCore

/// One RTMP connection's side of the protocol: the pure `RTMPPublishSession` run over the
/// connection's inbound bytes and outbound writer.
///
/// `@unchecked Sendable`: it holds the connection's inbound iterator, which is not `Sendable`.
/// It is used by one task at a time: the connection's task until `publish`, then the ingest
/// reading its body (`nextMedia`), then the connection's task again to answer a refusal,
/// each after the previous one is done.
final class RTMPPublisher: @unchecked Sendable {
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var session: RTMPPublishSession
    private var accepted = false
    private var finished = false
    /// MPEG-TS bytes handed to the ingest.
    private(set) var mediaBytes = 0

    init(
        inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        settings: RTMPPublishSession.Settings
    ) {
        self.inbound = inbound
        self.outbound = outbound
        var noise = [UInt8](repeating: 0, count: 1528)
        var random = SystemRandomNumberGenerator()
        for i in noise.indices { noise[i] = UInt8.random(in: 0...255, using: &random) }
        self.session = RTMPPublishSession(settings: settings, noise: noise)
    }

    /// Reads until the publisher asks to publish: its app and stream key, or nil when it went
    /// away or broke the protocol first.
    func awaitPublish() async throws -> (app: String, streamKey: String)? {
        while !finished {
            guard let bytes = try await inbound.next() else { return nil }
            var asked: (String, String)?
            for directive in session.receive(bytes.readableBytesView) {
                switch directive {
                case .send(let reply): try await outbound.write(ByteBuffer(bytes: reply))
                case .publish(let app, let key): asked = (app, key)
                case .close: finished = true
                case .media, .unpublish: break
                }
            }
            if let asked { return asked }
        }
        return nil
    }

    /// The next MPEG-TS of the stream for the ingest, or nil at its end (unpublished, closed,
    /// broken). The first call tells the publisher to start: it is made only once the ingest
    /// passed its checks (the primary here; at another node, once the request is on its way).
    func nextMedia() async throws -> ByteBuffer? {
        if !accepted {
            accepted = true
            try await send(session.accept())
        }
        while !finished {
            guard let bytes = try await inbound.next() else {
                finished = true
                return nil
            }
            var media: [UInt8] = []
            for directive in session.receive(bytes.readableBytesView) {
                switch directive {
                case .send(let reply): try await outbound.write(ByteBuffer(bytes: reply))
                case .media(let ts): media += ts
                case .unpublish, .close: finished = true
                case .publish: break
                }
            }
            if !media.isEmpty {
                mediaBytes += media.count
                return ByteBuffer(bytes: media)
            }
        }
        return nil
    }

    /// Tells the publisher why it may not publish (`NetStream.Publish.BadName`, shown in OBS's
    /// log and by ffmpeg), then the connection closes.
    func refuse(_ reason: String) async throws {
        finished = true
        try await send(session.refuse(reason))
    }

    private func send(_ directives: [RTMPDirective]) async throws {
        for case .send(let bytes) in directives { try await outbound.write(ByteBuffer(bytes: bytes)) }
    }
}
