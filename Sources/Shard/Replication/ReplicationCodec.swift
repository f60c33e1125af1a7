import Determinism

/// Why bytes did not decode to a `ReplicationMessage`.
public enum ReplicationCodecError: Error, Equatable, Sendable {
    /// The input ended inside a field, or declares more items than its remaining bytes can hold.
    case truncated
    /// The first byte is not a format version this build reads (a newer or a broken peer).
    case unsupportedVersion(UInt8)
    /// The message kind tag is not one of the known kinds.
    case unknownKind(UInt8)
    /// An entry kind tag is not one of the known entry kinds.
    case unknownEntryKind(UInt8)
    /// A boolean byte other than 0 or 1.
    case invalidBool(UInt8)
    /// A varint over 64 bits, or with redundant high zero groups (not the canonical encoding).
    case malformedVarint
    /// A declared size over its limit, found before anything was allocated for it. `what` is one of
    /// "message", "session", "sender", "member", "members", "entries", "entry" or "snapshot".
    case tooLarge(what: String, size: Int, limit: Int)
    /// A string (session, sender or member) that is not valid UTF-8.
    case invalidUTF8
    /// A whole message decoded with this many bytes left over.
    case trailingBytes(Int)
}

/// The binary encoding of `ReplicationMessage`: compact, canonical and bounded.
///
/// Layout, version 1. `uvarint` is unsigned LEB128 (7 bits a byte, low group first; `Varint` and
/// `ByteReader` of the determinism kit, shared with the live event codec); `str` is a
/// `uvarint` byte count then UTF-8; `bytes` is a `uvarint` count then raw bytes; `bool` is one
/// byte, 0 or 1; `xs*` is a `uvarint` count then that many `xs`.
/// ```
/// message         = u8 version=1 | u8 kind | str session | str sender | uvarint epoch | body
/// 1 append        = uvarint prevSeq | uvarint prevEpoch | uvarint commitSeq | entry*
/// 2 appendAck     = bool success | uvarint matchSeq | uvarint lastSeq
/// 3 requestVote   = uvarint lastSeq | uvarint lastEpoch | bool transfer
/// 4 vote          = bool granted
/// 5 installSnap.  = uvarint seq | uvarint epoch | str* members | bytes data
/// 6 snapshotAck   = uvarint matchSeq
/// 7 timeoutNow    = (empty)
/// 8 preVoteRequest= uvarint lastSeq | uvarint lastEpoch
/// 9 preVote       = bool granted
/// entry           = uvarint seqDelta | uvarint epoch | u8 entryKind | (1: bytes data | 2: str* members)
/// ```
/// Why it looks like this:
/// - The version byte comes first so a peer speaking another format is refused by name instead of
///   misread; the kind comes second so a receiver can route a message (votes before bulk appends)
///   from its first two bytes. Tag 0 is never valid, so a zeroed buffer fails at once.
/// - Seqs, epochs and lengths are varints: they are small in practice, so a heartbeat is a dozen
///   bytes plus the two ids rather than one 8-byte word per field.
/// - An entry stores its seq as the difference (wrapping) from the one expected: `prevSeq + 1` for
///   the first, the previous entry's seq + 1 after. The log is contiguous, so that is one zero byte
///   per entry, yet any value still round-trips.
/// - In `append` the fixed fields precede the entries, so the variable part is last.
/// - The encoding is canonical: the decoder refuses overlong varints, bool bytes other than 0/1 and
///   trailing bytes, so whatever decodes re-encodes to exactly the same bytes, and each message has
///   one encoding.
/// - New kinds take new tags (8 and 9, pre-vote) and leave the version at 1: a node from before
///   them refuses only those messages (`unknownKind`), never the kinds it knows.
/// - There is no outer length or checksum: the enclosing frame carries the length, and the
///   transport guards integrity.
///
/// Encoding does not check `Limits`: the sender batches its entries to fit them. Decoding checks
/// every declared length against its limit, and against the bytes left, before it allocates, so a
/// hostile or broken peer cannot make it allocate much more than the input's own size.
public enum ReplicationCodec {
    /// The format version written first in every message.
    public static let version: UInt8 = 1

    /// The largest sizes the decoder accepts.
    public struct Limits: Sendable, Hashable {
        /// Bytes in one string (session id, sender id, member id). Default 256: ids are short names.
        public var maxStringBytes: Int
        /// Entries in one append. Default 4096: far above a primary's batch, small enough to bound
        /// the per-entry bookkeeping of a hostile message.
        public var maxEntries: Int
        /// Bytes in one data entry. Default 4 MiB: a client write, not a file.
        public var maxEntryBytes: Int
        /// Members in one configuration (entry or snapshot). Default 64: a replica set, not a
        /// cluster.
        public var maxMembers: Int
        /// Bytes in one whole encoded message, which also bounds a snapshot's data. Default 16 MiB.
        public var maxTotalBytes: Int

        public init(
            maxStringBytes: Int = 256,
            maxEntries: Int = 4096,
            maxEntryBytes: Int = 4 << 20,
            maxMembers: Int = 64,
            maxTotalBytes: Int = 16 << 20
        ) {
            self.maxStringBytes = maxStringBytes
            self.maxEntries = maxEntries
            self.maxEntryBytes = maxEntryBytes
            self.maxMembers = maxMembers
            self.maxTotalBytes = maxTotalBytes
        }
    }

    enum Tag {
        static let append: UInt8 = 1
        static let appendAck: UInt8 = 2
        static let requestVote: UInt8 = 3
        static let vote: UInt8 = 4
        static let installSnapshot: UInt8 = 5
        static let snapshotAck: UInt8 = 6
        static let timeoutNow: UInt8 = 7
        static let preVoteRequest: UInt8 = 8
        static let preVote: UInt8 = 9
    }

    enum EntryTag {
        static let data: UInt8 = 1
        static let config: UInt8 = 2
    }

    // MARK: Encoding

    /// The encoding of `message` as a new array.
    public static func encode(_ message: ReplicationMessage) -> [UInt8] {
        var out: [UInt8] = []
        encode(message, into: &out)
        return out
    }

    /// Appends the encoding of `message` to `out`, growing it at most once.
    public static func encode(_ message: ReplicationMessage, into out: inout [UInt8]) {
        let size = encodedSize(message)
        if out.capacity - out.count < size {
            // Geometric growth, so appending many messages to one buffer stays linear.
            out.reserveCapacity(max(out.count + size, 2 * out.capacity))
        }
        out.append(version)
        switch message.kind {
        case .append: out.append(Tag.append)
        case .appendAck: out.append(Tag.appendAck)
        case .requestVote: out.append(Tag.requestVote)
        case .vote: out.append(Tag.vote)
        case .installSnapshot: out.append(Tag.installSnapshot)
        case .snapshotAck: out.append(Tag.snapshotAck)
        case .timeoutNow: out.append(Tag.timeoutNow)
        case .preVoteRequest: out.append(Tag.preVoteRequest)
        case .preVote: out.append(Tag.preVote)
        }
        appendString(message.session, into: &out)
        appendString(message.sender, into: &out)
        Varint.append(message.epoch, into: &out)
        switch message.kind {
        case .append(let prevSeq, let prevEpoch, let entries, let commitSeq):
            Varint.append(prevSeq, into: &out)
            Varint.append(prevEpoch, into: &out)
            Varint.append(commitSeq, into: &out)
            Varint.append(UInt64(entries.count), into: &out)
            var expected = prevSeq &+ 1
            for entry in entries {
                Varint.append(entry.seq &- expected, into: &out)
                Varint.append(entry.epoch, into: &out)
                switch entry.kind {
                case .data(let bytes):
                    out.append(EntryTag.data)
                    Varint.append(UInt64(bytes.count), into: &out)
                    out.append(contentsOf: bytes)
                case .config(let members):
                    out.append(EntryTag.config)
                    appendStrings(members, into: &out)
                }
                expected = entry.seq &+ 1
            }
        case .appendAck(let success, let matchSeq, let lastSeq):
            out.append(success ? 1 : 0)
            Varint.append(matchSeq, into: &out)
            Varint.append(lastSeq, into: &out)
        case .requestVote(let lastSeq, let lastEpoch, let transfer):
            Varint.append(lastSeq, into: &out)
            Varint.append(lastEpoch, into: &out)
            out.append(transfer ? 1 : 0)
        case .vote(let granted):
            out.append(granted ? 1 : 0)
        case .installSnapshot(let snapshot):
            Varint.append(snapshot.seq, into: &out)
            Varint.append(snapshot.epoch, into: &out)
            appendStrings(snapshot.members, into: &out)
            Varint.append(UInt64(snapshot.data.count), into: &out)
            out.append(contentsOf: snapshot.data)
        case .snapshotAck(let matchSeq):
            Varint.append(matchSeq, into: &out)
        case .timeoutNow:
            break
        case .preVoteRequest(let lastSeq, let lastEpoch):
            Varint.append(lastSeq, into: &out)
            Varint.append(lastEpoch, into: &out)
        case .preVote(let granted):
            out.append(granted ? 1 : 0)
        }
    }

    /// The exact number of bytes `encode` writes for `message` (a sender can check it against the
    /// receiver's `maxTotalBytes` before sending).
    public static func encodedSize(_ message: ReplicationMessage) -> Int {
        var size = 2 + stringSize(message.session) + stringSize(message.sender) + Varint.size(message.epoch)
        switch message.kind {
        case .append(let prevSeq, let prevEpoch, let entries, let commitSeq):
            size += Varint.size(prevSeq) + Varint.size(prevEpoch) + Varint.size(commitSeq)
            size += Varint.size(UInt64(entries.count))
            var expected = prevSeq &+ 1
            for entry in entries {
                size += Varint.size(entry.seq &- expected) + Varint.size(entry.epoch) + 1
                switch entry.kind {
                case .data(let bytes): size += Varint.size(UInt64(bytes.count)) + bytes.count
                case .config(let members): size += stringsSize(members)
                }
                expected = entry.seq &+ 1
            }
        case .appendAck(_, let matchSeq, let lastSeq):
            size += 1 + Varint.size(matchSeq) + Varint.size(lastSeq)
        case .requestVote(let lastSeq, let lastEpoch, _):
            size += Varint.size(lastSeq) + Varint.size(lastEpoch) + 1
        case .vote:
            size += 1
        case .installSnapshot(let snapshot):
            size += Varint.size(snapshot.seq) + Varint.size(snapshot.epoch) + stringsSize(snapshot.members)
            size += Varint.size(UInt64(snapshot.data.count)) + snapshot.data.count
        case .snapshotAck(let matchSeq):
            size += Varint.size(matchSeq)
        case .timeoutNow:
            break
        case .preVoteRequest(let lastSeq, let lastEpoch):
            size += Varint.size(lastSeq) + Varint.size(lastEpoch)
        case .preVote:
            size += 1
        }
        return size
    }

    private static func appendString(_ string: String, into out: inout [UInt8]) {
        let utf8 = string.utf8
        Varint.append(UInt64(utf8.count), into: &out)
        out.append(contentsOf: utf8)
    }

    private static func appendStrings(_ strings: [String], into out: inout [UInt8]) {
        Varint.append(UInt64(strings.count), into: &out)
        for string in strings { appendString(string, into: &out) }
    }

    private static func stringSize(_ string: String) -> Int {
        let count = string.utf8.count
        return Varint.size(UInt64(count)) + count
    }

    private static func stringsSize(_ strings: [String]) -> Int {
        var size = Varint.size(UInt64(strings.count))
        for string in strings { size += stringSize(string) }
        return size
    }

    // MARK: Decoding

    /// Decodes one message that fills all of `bytes`.
    public static func decode(
        _ bytes: [UInt8],
        limits: Limits = Limits()
    ) throws(ReplicationCodecError) -> ReplicationMessage {
        try decode(bytes[...], limits: limits)
    }

    /// Decodes one message that fills all of `bytes` (its indices need not start at 0).
    public static func decode(
        _ bytes: ArraySlice<UInt8>,
        limits: Limits = Limits()
    ) throws(ReplicationCodecError) -> ReplicationMessage {
        guard bytes.count <= limits.maxTotalBytes else {
            throw .tooLarge(what: "message", size: bytes.count, limit: limits.maxTotalBytes)
        }
        var reader = Reader(bytes: bytes, limits: limits)
        let messageVersion = try reader.byte()
        guard messageVersion == version else { throw .unsupportedVersion(messageVersion) }
        let tag = try reader.byte()
        guard tag >= Tag.append && tag <= Tag.preVote else { throw .unknownKind(tag) }
        let session = try reader.string("session")
        let sender = try reader.string("sender")
        let epoch = try reader.varint()
        let kind: ReplicationMessage.Kind
        switch tag {
        case Tag.append:
            let prevSeq = try reader.varint()
            let prevEpoch = try reader.varint()
            let commitSeq = try reader.varint()
            // Smallest entry: seqDelta, epoch, entryKind and a length or count, one byte each.
            let count = try reader.length("entries", limit: limits.maxEntries, minItemBytes: 4)
            var entries: [ReplicationEntry] = []
            entries.reserveCapacity(count)
            var expected = prevSeq &+ 1
            for _ in 0..<count {
                let seqDelta = try reader.varint()
                let seq = expected &+ seqDelta
                let entryEpoch = try reader.varint()
                let entryTag = try reader.byte()
                let entryKind: ReplicationEntry.Kind
                switch entryTag {
                case EntryTag.data:
                    let length = try reader.length("entry", limit: limits.maxEntryBytes)
                    entryKind = .data(try reader.take(length))
                case EntryTag.config:
                    entryKind = .config(try reader.members())
                default:
                    throw .unknownEntryKind(entryTag)
                }
                entries.append(ReplicationEntry(seq: seq, epoch: entryEpoch, kind: entryKind))
                expected = seq &+ 1
            }
            kind = .append(prevSeq: prevSeq, prevEpoch: prevEpoch, entries: entries, commitSeq: commitSeq)
        case Tag.appendAck:
            let success = try reader.bool()
            let matchSeq = try reader.varint()
            let lastSeq = try reader.varint()
            kind = .appendAck(success: success, matchSeq: matchSeq, lastSeq: lastSeq)
        case Tag.requestVote:
            let lastSeq = try reader.varint()
            let lastEpoch = try reader.varint()
            let transfer = try reader.bool()
            kind = .requestVote(lastSeq: lastSeq, lastEpoch: lastEpoch, transfer: transfer)
        case Tag.vote:
            kind = .vote(granted: try reader.bool())
        case Tag.installSnapshot:
            let seq = try reader.varint()
            let snapshotEpoch = try reader.varint()
            let members = try reader.members()
            let length = try reader.length("snapshot", limit: limits.maxTotalBytes)
            let data = try reader.take(length)
            kind = .installSnapshot(ReplicationSnapshot(seq: seq, epoch: snapshotEpoch, members: members, data: data))
        case Tag.snapshotAck:
            kind = .snapshotAck(matchSeq: try reader.varint())
        case Tag.preVoteRequest:
            let lastSeq = try reader.varint()
            let lastEpoch = try reader.varint()
            kind = .preVoteRequest(lastSeq: lastSeq, lastEpoch: lastEpoch)
        case Tag.preVote:
            kind = .preVote(granted: try reader.bool())
        default:
            kind = .timeoutNow
        }
        guard reader.remaining == 0 else { throw .trailingBytes(reader.remaining) }
        return ReplicationMessage(session: session, sender: sender, epoch: epoch, kind: kind)
    }
}

/// The codec's view of a `ByteReader`: its errors in this codec's terms, plus limits on declared
/// lengths. Every read checks the bytes left itself; nothing here can trap.
private struct Reader {
    var input: ByteReader
    let limits: ReplicationCodec.Limits

    init(bytes: ArraySlice<UInt8>, limits: ReplicationCodec.Limits) {
        self.input = ByteReader(bytes)
        self.limits = limits
    }

    var remaining: Int { input.remaining }

    mutating func byte() throws(ReplicationCodecError) -> UInt8 {
        do {
            return try input.readByte()
        } catch {
            throw .truncated
        }
    }

    mutating func bool() throws(ReplicationCodecError) -> Bool {
        let byte = try byte()
        guard byte <= 1 else { throw .invalidBool(byte) }
        return byte == 1
    }

    mutating func varint() throws(ReplicationCodecError) -> UInt64 {
        do {
            return try input.readVarint()
        } catch {
            switch error {
            case .truncated: throw .truncated
            case .overlongVarint, .varintOverflow: throw .malformedVarint
            }
        }
    }

    /// A declared length or count, checked first against `limit`, then against the bytes left
    /// (each item takes at least `minItemBytes`), so the caller can allocate it safely.
    mutating func length(
        _ what: String,
        limit: Int,
        minItemBytes: Int = 1
    ) throws(ReplicationCodecError) -> Int {
        let declared = try varint()
        guard declared <= UInt64(clamping: limit) else {
            throw .tooLarge(what: what, size: Int(clamping: declared), limit: limit)
        }
        let length = Int(declared)
        guard length <= remaining / minItemBytes else { throw .truncated }
        return length
    }

    /// The next `count` bytes, copied (`count` comes from `length`, so they are there).
    mutating func take(_ count: Int) throws(ReplicationCodecError) -> [UInt8] {
        guard let bytes = try? input.readBytes(count) else { throw .truncated }
        return Array(bytes)
    }

    mutating func string(_ what: String) throws(ReplicationCodecError) -> String {
        let count = try length(what, limit: limits.maxStringBytes)
        guard let bytes = try? input.readBytes(count) else { throw .truncated }
        guard let string = String(validating: bytes, as: UTF8.self) else { throw .invalidUTF8 }
        return string
    }

    mutating func members() throws(ReplicationCodecError) -> [String] {
        let count = try length("members", limit: limits.maxMembers)
        var members: [String] = []
        members.reserveCapacity(count)
        for _ in 0..<count { members.append(try string("member")) }
        return members
    }
}
