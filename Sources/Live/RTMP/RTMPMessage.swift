/// One RTMP message (Adobe RTMP 1.0 §5.4, §6): what the chunk stream reassembles.
public struct RTMPMessage: Equatable, Sendable {
    public var typeID: UInt8
    public var streamID: UInt32
    /// Milliseconds, 32 bits (wraps after ~49.7 days).
    public var timestamp: UInt32
    public var payload: [UInt8]
    /// The chunk stream it travels on (the sender's choice; control messages use 2).
    public var chunkStreamID: UInt32

    public init(typeID: UInt8, streamID: UInt32 = 0, timestamp: UInt32 = 0, payload: [UInt8], chunkStreamID: UInt32) {
        self.typeID = typeID
        self.streamID = streamID
        self.timestamp = timestamp
        self.payload = payload
        self.chunkStreamID = chunkStreamID
    }

    /// Message type ids.
    public enum Kind {
        public static let setChunkSize: UInt8 = 1
        public static let abort: UInt8 = 2
        public static let acknowledgement: UInt8 = 3
        public static let userControl: UInt8 = 4
        public static let windowAcknowledgementSize: UInt8 = 5
        public static let setPeerBandwidth: UInt8 = 6
        public static let audio: UInt8 = 8
        public static let video: UInt8 = 9
        public static let dataAMF0: UInt8 = 18
        public static let commandAMF0: UInt8 = 20
    }

    /// A protocol control message with a 4-byte value (chunk size, window, acknowledgement).
    public static func control(_ typeID: UInt8, _ value: UInt32, extra: [UInt8] = []) -> RTMPMessage {
        RTMPMessage(
            typeID: typeID,
            payload: [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
                + extra,
            chunkStreamID: 2
        )
    }

    /// An AMF0 command (`_result`, `onStatus`, ...).
    public static func command(_ values: [AMF0Value], streamID: UInt32 = 0) -> RTMPMessage {
        RTMPMessage(typeID: Kind.commandAMF0, streamID: streamID, payload: AMF0.encode(values), chunkStreamID: 3)
    }
}
