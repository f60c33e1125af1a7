import NIOCore
import Shard

/// What an upstream copy (a replica, or a relay one level up) sends a relay it feeds: the
/// session's committed data entries after the relay's cursor, as a pull answers it.
///
/// Log seqs are the same on every copy for committed entries (the log-matching property), so a
/// relay that re-attaches to another copy asks for what follows its own cursor there and gets
/// no gap and no repeat.
struct RelayFeed: Sendable, Equatable {
    var group: String
    var session: String
    /// The sender's epoch: a change means a new primary's media stream (the relay restarts its
    /// pipeline at the next keyframe rather than splice two streams).
    var epoch: UInt64
    /// The replica set as the sender knows it: where the relay re-attaches if the sender dies.
    var members: [String]
    /// The log seq these entries follow: every committed entry up to it was sent before. A relay
    /// whose own cursor is below it missed a feed (a dropped frame) and asks again from its cursor.
    var prev: UInt64
    /// The log seq every committed entry up to which this feed completes (config entries and
    /// anything not an event are skipped, so this runs ahead of the last entry's seq).
    var upTo: UInt64
    /// The sender's own commit point: `upTo < commit` means more is to come (the relay pulls).
    var commit: UInt64
    /// Data entries in (`prev`, `upTo`], in log order.
    var entries: [ReplicationEntry]

    /// Appends the fields (after the link message's tag).
    func encode(into out: inout ByteBuffer) {
        LinkMessage.writeString(group, into: &out)
        LinkMessage.writeString(session, into: &out)
        out.writeInteger(epoch)
        out.writeInteger(UInt8(min(members.count, Int(UInt8.max))))
        for member in members.prefix(Int(UInt8.max)) { LinkMessage.writeString(member, into: &out) }
        out.writeInteger(prev)
        out.writeInteger(upTo)
        out.writeInteger(commit)
        let data = entries.compactMap { entry -> (UInt64, UInt64, [UInt8])? in
            guard case .data(let payload) = entry.kind else { return nil }
            return (entry.seq, entry.epoch, payload)
        }
        out.writeInteger(UInt32(data.count))
        for (seq, epoch, payload) in data {
            out.writeInteger(seq)
            out.writeInteger(epoch)
            out.writeInteger(UInt32(payload.count))
            out.writeBytes(payload)
        }
    }

    /// Reads the fields back; every count is checked against the bytes left, so a bad frame is an
    /// error, never a large allocation.
    static func decode(_ body: inout ByteBuffer) throws(LinkMessage.DecodeError) -> RelayFeed {
        let group = try LinkMessage.readString(&body)
        let session = try LinkMessage.readString(&body)
        guard let epoch = body.readInteger(as: UInt64.self), let memberCount = body.readInteger(as: UInt8.self) else {
            throw .truncated
        }
        var members: [String] = []
        for _ in 0..<memberCount { members.append(try LinkMessage.readString(&body)) }
        guard let prev = body.readInteger(as: UInt64.self), let upTo = body.readInteger(as: UInt64.self),
            let commit = body.readInteger(as: UInt64.self), let count = body.readInteger(as: UInt32.self),
            Int(count) <= body.readableBytes / 20
        else { throw .truncated }
        var entries: [ReplicationEntry] = []
        entries.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let seq = body.readInteger(as: UInt64.self), let epoch = body.readInteger(as: UInt64.self),
                let length = body.readInteger(as: UInt32.self), let payload = body.readBytes(length: Int(length))
            else { throw .truncated }
            entries.append(ReplicationEntry(seq: seq, epoch: epoch, kind: .data(payload)))
        }
        guard prev <= upTo, entries.allSatisfy({ $0.seq > prev && $0.seq <= upTo }),
            zip(entries, entries.dropFirst()).allSatisfy({ $0.seq < $1.seq })
        else { throw .malformed }
        return RelayFeed(
            group: group,
            session: session,
            epoch: epoch,
            members: members,
            prev: prev,
            upTo: upTo,
            commit: commit,
            entries: entries
        )
    }
}
