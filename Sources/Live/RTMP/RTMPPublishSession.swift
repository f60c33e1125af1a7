/// What the shell of an RTMP connection does next.
public enum RTMPDirective: Equatable, Sendable {
    /// Write these bytes to the publisher.
    case send([UInt8])
    /// The publisher asks to publish `streamKey` in `app`: the shell checks the key and calls
    /// `accept()` or `refuse(_:)`.
    case publish(app: String, streamKey: String)
    /// MPEG-TS for the media pipeline (after `accept()` only).
    case media([UInt8])
    /// The publisher ended the stream (`FCUnpublish`, `deleteStream`): close after it.
    case unpublish
    /// Close the connection (the error, if any, is logged; the publisher was told what it can be).
    case close(RTMPError?)
}

/// One RTMP publishing connection, server side, as nginx-rtmp and SRS answer ffmpeg and OBS:
/// handshake, `connect`, `releaseStream`/`FCPublish`, `createStream`, `publish`, then audio and
/// video until `FCUnpublish`/`deleteStream`. Pure: bytes in, directives out; the shell owns the
/// socket and decides whether a stream key is good.
public struct RTMPPublishSession: Sendable {
    /// Settings a node passes in, with their defaults.
    public struct Settings: Sendable {
        /// The largest message accepted (a keyframe of a high-bitrate stream fits).
        public var maximumMessageSize = 8 << 20
        /// The chunk size this side writes with (and announces).
        public var chunkSize = 4096
        /// Window acknowledgement size announced to the publisher.
        public var window: UInt32 = 2_500_000

        public init() {}
    }

    private enum Phase: Equatable { case handshake, connecting, connected, publishing, done }

    private let settings: Settings
    private var phase = Phase.handshake
    private var handshake: RTMPHandshake
    private var decoder: RTMPChunkDecoder
    private var encoder = RTMPChunkEncoder()
    private var converter = FLVToTS()
    private var app = ""
    private var streamKey: String?
    private var publishStream: UInt32 = 0
    private var peerWindow: UInt32?
    private var acknowledged: UInt64 = 0

    /// `noise`: random bytes for the handshake (the caller's randomness).
    public init(settings: Settings = Settings(), noise: [UInt8]) {
        self.settings = settings
        handshake = RTMPHandshake(noise: noise)
        decoder = RTMPChunkDecoder(maximumMessageSize: settings.maximumMessageSize)
    }

    /// The chunk decoder as it stands (what it holds, the peer's chunk size): exists for the
    /// fuzz tests' bounds checks.
    var chunkDecoder: RTMPChunkDecoder { decoder }

    /// The key being published, once accepted.
    public var publishing: String? { phase == .publishing ? streamKey : nil }

    /// Bytes from the publisher.
    public mutating func receive(_ bytes: some Collection<UInt8>) -> [RTMPDirective] {
        guard phase != .done else { return [] }
        do {
            var directives: [RTMPDirective] = []
            var input = Array(bytes)
            if phase == .handshake {
                input = []
                for step in try handshake.feed(bytes) {
                    switch step {
                    case .waiting: break
                    case .reply(let reply): directives.append(.send(reply))
                    case .done(let rest):
                        phase = .connecting
                        input = rest
                    }
                }
            }
            guard phase != .handshake, !input.isEmpty else { return directives }
            for message in try decoder.feed(input) {
                directives += try handle(message)
                if phase == .done { return directives }
            }
            if let window = peerWindow, decoder.bytesReceived - acknowledged >= UInt64(window) {
                acknowledged = decoder.bytesReceived
                directives.append(
                    send(.control(RTMPMessage.Kind.acknowledgement, UInt32(truncatingIfNeeded: acknowledged)))
                )
            }
            return directives
        } catch let error as RTMPError {
            phase = .done
            return [.close(error)]
        } catch let error as FLVError {
            phase = .done
            return [.close(.media(error))]
        } catch {
            phase = .done
            return [.close(nil)]
        }
    }

    /// The shell found the stream key good: the publisher is told to start.
    public mutating func accept() -> [RTMPDirective] {
        guard phase == .connected, streamKey != nil else { return [] }
        phase = .publishing
        // User control StreamBegin (event 0) for the stream, then NetStream.Publish.Start.
        let begin = RTMPMessage(
            typeID: RTMPMessage.Kind.userControl,
            payload: [0, 0] + RTMPChunkEncoder.bigEndian(publishStream),
            chunkStreamID: 2
        )
        return [send(begin), send(status("status", "NetStream.Publish.Start", "publishing"))]
    }

    /// The shell refused the key (`reason` is shown to the publisher, e.g. OBS's log).
    public mutating func refuse(_ reason: String) -> [RTMPDirective] {
        guard phase != .done else { return [] }
        phase = .done
        return [send(status("error", "NetStream.Publish.BadName", reason)), .close(nil)]
    }

    private mutating func handle(_ message: RTMPMessage) throws -> [RTMPDirective] {
        switch message.typeID {
        case RTMPMessage.Kind.windowAcknowledgementSize:
            let value = message.payload.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            peerWindow = value > 0 ? value : nil
            return []
        case RTMPMessage.Kind.commandAMF0, 17:
            // AMF3 commands (17) begin with a format byte, then AMF0.
            let payload = message.typeID == 17 ? Array(message.payload.dropFirst()) : message.payload
            return try command(try AMF0.decode(payload), streamID: message.streamID)
        case RTMPMessage.Kind.dataAMF0, 15:
            let payload = message.typeID == 15 ? Array(message.payload.dropFirst()) : message.payload
            metadata(try AMF0.decode(payload))
            return []
        case RTMPMessage.Kind.audio, RTMPMessage.Kind.video:
            guard phase == .publishing else { return [] }
            let ts =
                message.typeID == RTMPMessage.Kind.video
                ? try converter.video(message.payload, timestamp: message.timestamp)
                : try converter.audio(message.payload, timestamp: message.timestamp)
            return ts.isEmpty ? [] : [.media(ts)]
        default:
            return []  // acknowledgements, user control, bandwidth: nothing to answer
        }
    }

    /// `@setDataFrame("onMetaData", {...})` or `onMetaData({...})`: which tracks are coming.
    private mutating func metadata(_ values: [AMF0Value]) {
        guard phase != .publishing,
            let data = values.first(where: { $0["videocodecid"] != nil || $0["audiocodecid"] != nil })
        else { return }
        converter = FLVToTS(video: data["videocodecid"] != nil, audio: data["audiocodecid"] != nil)
    }

    private mutating func command(_ values: [AMF0Value], streamID: UInt32) throws -> [RTMPDirective] {
        guard let name = values.first?.string else { throw RTMPError.badAMF("a command without a name") }
        let transaction = values.count > 1 ? values[1].number ?? 0 : 0
        switch name {
        case "connect":
            guard phase == .connecting else { return [] }
            app = values.count > 2 ? values[2]["app"]?.string ?? "" : ""
            phase = .connected
            var out = [
                send(.control(RTMPMessage.Kind.windowAcknowledgementSize, settings.window)),
                send(.control(RTMPMessage.Kind.setPeerBandwidth, settings.window, extra: [2])),
                send(.control(RTMPMessage.Kind.setChunkSize, UInt32(settings.chunkSize))),
            ]
            encoder.chunkSize = settings.chunkSize
            out.append(
                send(
                    .command([
                        .string("_result"), .number(transaction),
                        .object([
                            AMF0Property("fmsVer", .string("FMS/3,0,1,123")), AMF0Property("capabilities", .number(31)),
                        ]),
                        .object([
                            AMF0Property("level", .string("status")),
                            AMF0Property("code", .string("NetConnection.Connect.Success")),
                            AMF0Property("description", .string("Connection succeeded.")),
                            AMF0Property("objectEncoding", .number(0)),
                        ]),
                    ])
                )
            )
            return out
        case "releaseStream", "FCPublish":
            return [send(.command([.string("_result"), .number(transaction), .null, .undefined]))]
        case "createStream":
            publishStream = 1
            return [send(.command([.string("_result"), .number(transaction), .null, .number(1)]))]
        case "publish":
            guard phase == .connected, streamKey == nil else {
                // A second publish on one connection: refused, the first goes on.
                return [send(status("error", "NetStream.Publish.BadName", "already publishing"))]
            }
            let key = values.count > 3 ? values[3].string ?? "" : ""
            streamKey = key
            publishStream = streamID
            return [.publish(app: app, streamKey: key)]
        case "FCUnpublish", "deleteStream", "closeStream":
            guard phase == .publishing else { return [] }
            phase = .done
            return [.unpublish, .close(nil)]
        default:
            return []  // getStreamLength, _checkbw, ...: not needed to publish
        }
    }

    private func status(_ level: String, _ code: String, _ description: String) -> RTMPMessage {
        .command(
            [
                .string("onStatus"), .number(0), .null,
                .object([
                    AMF0Property("level", .string(level)), AMF0Property("code", .string(code)),
                    AMF0Property("description", .string(description)),
                ]),
            ],
            streamID: publishStream
        )
    }

    private func send(_ message: RTMPMessage) -> RTMPDirective { .send(encoder.encode(message)) }
}
