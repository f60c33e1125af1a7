/// Reassembles RTMP messages from the chunk stream (Adobe RTMP 1.0 §5.3): basic headers of 1-3
/// bytes, message headers of type 0-3, extended timestamps, messages interleaved across chunk
/// streams, and the peer's Set Chunk Size and Abort applied where they occur.
///
/// Bounded: a message longer than `maximumMessageSize`, partial messages longer than it together,
/// more than `maximumChunkStreams` chunk streams, or a chunk size above `maximumChunkSize` is an
/// error; input waits only until one chunk is whole, so held bytes are at most the message cap
/// plus one chunk.
public struct RTMPChunkDecoder: Sendable {
    public var maximumMessageSize: Int
    public static let maximumChunkStreams = 64
    public static let maximumChunkSize = 1 << 24

    /// The peer's chunk size (128 until it sends Set Chunk Size).
    public private(set) var chunkSize = 128
    /// Bytes consumed so far, for window acknowledgements.
    public private(set) var bytesReceived: UInt64 = 0

    private struct StreamState: Sendable {
        var timestamp: UInt32 = 0
        var delta: UInt32 = 0
        var length = 0
        var typeID: UInt8 = 0
        var streamID: UInt32 = 0
        var extended = false
        var partial: [UInt8]?
    }
    private var streams: [UInt32: StreamState] = [:]
    private var pending: [UInt8] = []
    /// The partial messages' bytes, all chunk streams together.
    private var partialBytes = 0

    /// Bytes held between calls: the unfinished chunk and the partial messages.
    public var heldBytes: Int { pending.count + streams.values.reduce(0) { $0 + ($1.partial?.count ?? 0) } }

    public init(maximumMessageSize: Int = 8 << 20) {
        self.maximumMessageSize = maximumMessageSize
    }

    /// Consumes bytes as they arrive; returns the messages completed.
    public mutating func feed(_ bytes: some Collection<UInt8>) throws(RTMPError) -> [RTMPMessage] {
        bytesReceived += UInt64(bytes.count)
        pending += bytes
        var messages: [RTMPMessage] = []
        var offset = 0
        while let (used, message) = try chunk(at: offset) {
            offset += used
            guard let message else { continue }
            switch message.typeID {
            case RTMPMessage.Kind.setChunkSize:
                guard message.payload.count >= 4 else {
                    throw .badChunk("Set Chunk Size of \(message.payload.count) bytes")
                }
                let size =
                    Int(message.payload[0] & 0x7F) << 24 | Int(message.payload[1]) << 16
                    | Int(message.payload[2]) << 8 | Int(message.payload[3])
                guard size >= 1, size <= Self.maximumChunkSize else { throw .badChunk("chunk size \(size)") }
                chunkSize = size
            case RTMPMessage.Kind.abort:
                guard message.payload.count >= 4 else { continue }
                let id = message.payload.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                partialBytes -= streams[id]?.partial?.count ?? 0
                streams[id]?.partial = nil
            default:
                break
            }
            messages.append(message)
        }
        pending.removeFirst(offset)
        return messages
    }

    /// Reads one chunk at `offset` of `pending`: nil when it is not all there yet; else the
    /// bytes it took and the message it completed, if any.
    private mutating func chunk(at offset: Int) throws(RTMPError) -> (Int, RTMPMessage?)? {
        var i = offset
        let available = pending.count
        guard i < available else { return nil }
        let format = pending[i] >> 6
        var id = UInt32(pending[i] & 0x3F)
        i += 1
        if id == 0 {
            guard i < available else { return nil }
            id = UInt32(pending[i]) + 64
            i += 1
        } else if id == 1 {
            guard i + 1 < available else { return nil }
            id = UInt32(pending[i]) + UInt32(pending[i + 1]) * 256 + 64
            i += 2
        }
        let headerSize = [11, 7, 3, 0][Int(format)]
        guard available - i >= headerSize else { return nil }
        if streams[id] == nil {
            guard format == 0 else { throw .badChunk("chunk stream \(id) continued before it began") }
            guard streams.count < Self.maximumChunkStreams else { throw .tooManyChunkStreams }
        }
        var state = streams[id] ?? StreamState()
        func u24(_ at: Int) -> UInt32 {
            UInt32(pending[at]) << 16 | UInt32(pending[at + 1]) << 8 | UInt32(pending[at + 2])
        }
        let starting = state.partial == nil
        var stamp: UInt32 = 0
        if format <= 2 {
            stamp = u24(i)
            state.extended = stamp == 0xFF_FFFF
        }
        if format <= 1 {
            state.length = Int(u24(i + 3))
            state.typeID = pending[i + 6]
            guard state.length <= maximumMessageSize else { throw .messageTooLarge(state.length) }
        }
        if format == 0 {
            state.streamID =
                UInt32(pending[i + 7]) | UInt32(pending[i + 8]) << 8 | UInt32(pending[i + 9]) << 16
                | UInt32(pending[i + 10]) << 24
        }
        i += headerSize
        if state.extended {
            guard available - i >= 4 else { return nil }
            stamp =
                UInt32(pending[i]) << 24 | UInt32(pending[i + 1]) << 16 | UInt32(pending[i + 2]) << 8
                | UInt32(pending[i + 3])
            i += 4
        }
        if !starting, format != 3 {
            // A new header in the middle of a message: the sender abandoned it.
            state.partial = nil
        }
        if state.partial == nil {
            switch format {
            case 0:
                state.timestamp = stamp
                state.delta = 0
            case 1, 2:
                state.delta = stamp
                state.timestamp &+= stamp
            default:
                state.timestamp &+= state.delta
            }
        }
        let before = state.partial?.count ?? 0
        let take = min(chunkSize, state.length - before)
        guard available - i >= take else { return nil }
        // The partial messages together stay within the message cap: without it, a publisher
        // that begins a cap-sized message on each of 64 chunk streams and finishes none holds
        // 64 times the cap (512 MiB by default) on one connection.
        let held =
            partialBytes - (streams[id]?.partial?.count ?? 0) + (before + take < state.length ? before + take : 0)
        guard held <= maximumMessageSize else { throw .messageTooLarge(held) }
        partialBytes = held
        // Moved out of the dictionary before appending: appending to an array still shared
        // with it copies the whole partial message every chunk, so an 8 MiB message in the
        // default 128-byte chunks cost O(n²), tens of seconds of CPU.
        var partial = state.partial ?? []
        state.partial = nil
        streams[id]?.partial = nil
        partial += pending[i..<(i + take)]
        i += take
        var message: RTMPMessage?
        if partial.count == state.length {
            message = RTMPMessage(
                typeID: state.typeID,
                streamID: state.streamID,
                timestamp: state.timestamp,
                payload: partial,
                chunkStreamID: id
            )
            state.partial = nil
        } else {
            state.partial = partial
        }
        streams[id] = state
        return (i - offset, message)
    }
}

/// Writes messages as chunks: a type-0 header, then type-3 continuations every `chunkSize`.
public struct RTMPChunkEncoder: Sendable {
    public var chunkSize = 128

    public init() {}

    public func encode(_ message: RTMPMessage) -> [UInt8] {
        var out: [UInt8] = []
        let extended = message.timestamp >= 0xFF_FFFF
        let stamp = extended ? 0xFF_FFFF : message.timestamp
        let length = message.payload.count
        out += Self.basicHeader(format: 0, id: message.chunkStreamID)
        out += [UInt8(stamp >> 16 & 0xFF), UInt8(stamp >> 8 & 0xFF), UInt8(stamp & 0xFF)]
        out += [UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), message.typeID]
        let s = message.streamID
        out += [UInt8(s & 0xFF), UInt8(s >> 8 & 0xFF), UInt8(s >> 16 & 0xFF), UInt8(s >> 24)]
        let extendedBytes = extended ? Self.bigEndian(message.timestamp) : []
        out += extendedBytes
        var offset = 0
        repeat {
            if offset > 0 { out += Self.basicHeader(format: 3, id: message.chunkStreamID) + extendedBytes }
            let take = min(chunkSize, length - offset)
            out += message.payload[offset..<(offset + take)]
            offset += take
        } while offset < length
        return out
    }

    /// A chunk's basic header (1-3 bytes by `id`); internal so the fuzz tests can write chunk
    /// streams this encoder does not (interleaved, abandoned).
    static func basicHeader(format: UInt8, id: UInt32) -> [UInt8] {
        switch id {
        case 2...63: [format << 6 | UInt8(id)]
        case 64...319: [format << 6, UInt8(id - 64)]
        default: [format << 6 | 1, UInt8((id - 64) & 0xFF), UInt8((id - 64) >> 8 & 0xFF)]
        }
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }
}
