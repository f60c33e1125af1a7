import NIOCore
import Shard

/// One message on a node-to-node link. A link frame's payload (see `BatchFrame`) is a run of
/// `u32 length | message` records; each message is a tag byte then its fields:
/// ```
/// 1 replication: u16 groupLen | group | ReplicationCodec bytes
/// 2 media:       u16 groupLen | group | u16 sessionLen | session | MPEG-TS bytes
/// 3 leaving:     u16 groupLen | group | u16 sessionLen | session | u16 nodeLen | node
///                (a draining replica asks its primary to replace it)
/// 4 removed:     same fields, then u64 epoch (a primary of that epoch tells a replica it was
///                removed from the replica set: Raft never tells it otherwise, since entries stop
///                flowing to it; the epoch lets the replica ignore a notice from an older primary)
/// 5 subscribe:   u16 groupLen | group | u16 sessionLen | session | u16 nodeLen | node |
///                u64 after | u8 restart | u8 count | count × (u16 len | member)
///                (an edge relay asks a copy for the committed entries after `after`, and the
///                media: at attach and on `restart` from `after`, else a renewal of its lease,
///                about once a second; `members` lets a node that holds nothing relay in turn)
/// 6 feed:        `RelayFeed` (upstream to relay: committed entries, epoch, replica set)
/// 7 unsubscribe: u16 groupLen | group | u16 sessionLen | session | u16 nodeLen | node
/// ```
/// The group travels with replication messages because a node that has never held the session
/// (a newcomer replica) needs it to file the session's log.
enum LinkMessage: Sendable {
    case replication(group: String, ReplicationMessage)
    case media(group: String, session: String, ByteBuffer)
    case leaving(group: String, session: String, node: String)
    case removed(group: String, session: String, node: String, epoch: UInt64)
    case subscribe(group: String, session: String, node: String, after: UInt64, restart: Bool, members: [String])
    case feed(RelayFeed)
    case unsubscribe(group: String, session: String, node: String)

    enum DecodeError: Error, Equatable {
        case truncated
        case unknownTag(UInt8)
        case badString
        /// Fields that contradict each other (a feed's entries outside its range).
        case malformed
        case replication(ReplicationCodecError)
    }

    /// Appends `u32 length | message` to `out`.
    func encode(into out: inout ByteBuffer) {
        let lengthIndex = out.writerIndex
        out.writeInteger(UInt32(0))
        switch self {
        case .replication(let group, let message):
            out.writeInteger(UInt8(1))
            Self.writeString(group, into: &out)
            var bytes: [UInt8] = []
            ReplicationCodec.encode(message, into: &bytes)
            out.writeBytes(bytes)
        case .media(let group, let session, let bytes):
            out.writeInteger(UInt8(2))
            Self.writeString(group, into: &out)
            Self.writeString(session, into: &out)
            out.writeImmutableBuffer(bytes)
        case .leaving(let group, let session, let node):
            out.writeInteger(UInt8(3))
            Self.writeString(group, into: &out)
            Self.writeString(session, into: &out)
            Self.writeString(node, into: &out)
        case .removed(let group, let session, let node, let epoch):
            out.writeInteger(UInt8(4))
            Self.writeString(group, into: &out)
            Self.writeString(session, into: &out)
            Self.writeString(node, into: &out)
            out.writeInteger(epoch)
        case .subscribe(let group, let session, let node, let after, let restart, let members):
            out.writeInteger(UInt8(5))
            Self.writeString(group, into: &out)
            Self.writeString(session, into: &out)
            Self.writeString(node, into: &out)
            out.writeInteger(after)
            out.writeInteger(UInt8(restart ? 1 : 0))
            out.writeInteger(UInt8(min(members.count, Int(UInt8.max))))
            for member in members.prefix(Int(UInt8.max)) { Self.writeString(member, into: &out) }
        case .feed(let feed):
            out.writeInteger(UInt8(6))
            feed.encode(into: &out)
        case .unsubscribe(let group, let session, let node):
            out.writeInteger(UInt8(7))
            Self.writeString(group, into: &out)
            Self.writeString(session, into: &out)
            Self.writeString(node, into: &out)
        }
        out.setInteger(UInt32(out.writerIndex - lengthIndex - 4), at: lengthIndex)
    }

    /// Decodes every message of one frame payload.
    static func decodeAll(_ payload: ByteBuffer) throws(DecodeError) -> [LinkMessage] {
        var buffer = payload
        var messages: [LinkMessage] = []
        while buffer.readableBytes > 0 {
            guard let length = buffer.readInteger(as: UInt32.self), var body = buffer.readSlice(length: Int(length))
            else { throw .truncated }
            messages.append(try decode(&body))
        }
        return messages
    }

    private static func decode(_ body: inout ByteBuffer) throws(DecodeError) -> LinkMessage {
        guard let tag = body.readInteger(as: UInt8.self) else { throw .truncated }
        switch tag {
        case 1:
            let group = try readString(&body)
            let bytes = body.readBytes(length: body.readableBytes) ?? []
            do {
                return .replication(group: group, try ReplicationCodec.decode(bytes[...]))
            } catch {
                throw .replication(error)
            }
        case 2:
            let group = try readString(&body)
            let session = try readString(&body)
            return .media(group: group, session: session, body.readSlice(length: body.readableBytes) ?? ByteBuffer())
        case 3:
            return .leaving(group: try readString(&body), session: try readString(&body), node: try readString(&body))
        case 4:
            let (group, session, node) = (try readString(&body), try readString(&body), try readString(&body))
            guard let epoch = body.readInteger(as: UInt64.self) else { throw .truncated }
            return .removed(group: group, session: session, node: node, epoch: epoch)
        case 5:
            let (group, session, node) = (try readString(&body), try readString(&body), try readString(&body))
            guard let after = body.readInteger(as: UInt64.self), let restart = body.readInteger(as: UInt8.self),
                let count = body.readInteger(as: UInt8.self)
            else { throw .truncated }
            var members: [String] = []
            for _ in 0..<count { members.append(try readString(&body)) }
            return .subscribe(
                group: group,
                session: session,
                node: node,
                after: after,
                restart: restart != 0,
                members: members
            )
        case 6:
            return .feed(try RelayFeed.decode(&body))
        case 7:
            return .unsubscribe(
                group: try readString(&body),
                session: try readString(&body),
                node: try readString(&body)
            )
        default:
            throw .unknownTag(tag)
        }
    }

    static func writeString(_ string: String, into out: inout ByteBuffer) {
        let utf8 = Array(string.utf8.prefix(Int(UInt16.max)))
        out.writeInteger(UInt16(utf8.count))
        out.writeBytes(utf8)
    }

    static func readString(_ body: inout ByteBuffer) throws(DecodeError) -> String {
        guard let length = body.readInteger(as: UInt16.self), let bytes = body.readBytes(length: Int(length)) else {
            throw .truncated
        }
        guard let string = String(validating: bytes, as: UTF8.self) else { throw .badString }
        return string
    }
}
