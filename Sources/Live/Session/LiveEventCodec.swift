import Determinism

/// The binary form of a `LiveEvent` in the replicated log: what the primary proposes and every
/// replica decodes once per event. JSON through Foundation's coders cost a replica about a third
/// of its CPU per write (perf at 1,000 writes/s); this is a few copies.
///
/// Layout: the version byte `0x01` (JSON, the older form, starts with `{`, so both are told
/// apart by the first byte and old logs still load), then `seq` (varint), the type code (one
/// byte, fixed per type below), `user` (string), `at` (zigzag varint), a presence mask (varint,
/// one bit per optional field in declaration order) and the present fields in that order.
/// Strings are a varint byte count and UTF-8. Varints are `Varint`'s canonical unsigned LEB128
/// (the encoder has only ever written that form, so logs written before the decoder became strict
/// still load). Decoding never reads past the input, refuses unknown versions, types and mask
/// bits, overlong varints and varints over 64 bits, and trailing bytes.
public enum LiveEventCodec {
    public static let version: UInt8 = 0x01

    public enum DecodeError: Error, Equatable, Sendable {
        case empty
        case unknownVersion(UInt8)
        case truncated
        case badVarint
        case unknownType(UInt8)
        case unknownFields(UInt64)
        case badUTF8
        case trailingBytes(Int)
        case unknownRole(UInt8)
        case badBoard
    }

    /// Type codes: stable on disk, whatever order the enum's cases are in.
    static let typeCodes: [LiveEventType: UInt8] = [
        .started: 1, .comment: 2, .tip: 3, .question: 4, .highlight: 5, .pin: 6, .unpin: 7, .mute: 8,
        .unmute: 9, .kick: 10, .ended: 11, .redpacket: 12, .redpacketGrab: 13, .redpacketExpired: 14, .product: 15,
        .spotlight: 16, .click: 17, .board: 18, .shared: 19, .unshared: 20, .scheduled: 21,
        .unscheduled: 22, .reminded: 23, .fulfilled: 24,
    ]
    static let types: [UInt8: LiveEventType] = Dictionary(uniqueKeysWithValues: typeCodes.map { ($1, $0) })
    /// Role codes: stable on disk.
    static let roleCodes: [LiveRole: UInt8] = [.member: 1, .admin: 2, .owner: 3, .guest: 4]
    /// Board kind codes: stable on disk.
    static let boardCodes: [LiveBoard.Kind: UInt8] = [.slide: 1, .stroke: 2, .clear: 3]
    static let boardKinds: [UInt8: LiveBoard.Kind] = Dictionary(uniqueKeysWithValues: boardCodes.map { ($1, $0) })
    static let roles: [UInt8: LiveRole] = Dictionary(uniqueKeysWithValues: roleCodes.map { ($1, $0) })

    private enum Field: UInt64 {
        case name = 1
        case text = 2
        case amount = 4
        case currency = 8
        case clientID = 16
        case targetSeq = 32
        case targetUser = 64
        case title = 128
        case record = 256
        case role = 512
        case ref = 1024
        case shares = 2048
        case amounts = 4096
        case expiresAt = 8192
        case url = 16384
        case image = 32768
        case board = 65536
        case mediaMillis = 131072
        case group = 262144
        static let all: UInt64 = 524_287
    }

    public static func encode(_ event: LiveEvent) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32 + event.user.utf8.count + (event.text?.utf8.count ?? 0) + (event.name?.utf8.count ?? 0))
        out.append(version)
        Varint.append(event.seq, into: &out)
        out.append(typeCodes[event.type]!)
        putString(event.user, &out)
        Varint.append(zigzag(event.at), into: &out)
        var mask: UInt64 = 0
        if event.name != nil { mask |= Field.name.rawValue }
        if event.text != nil { mask |= Field.text.rawValue }
        if event.amount != nil { mask |= Field.amount.rawValue }
        if event.currency != nil { mask |= Field.currency.rawValue }
        if event.clientID != nil { mask |= Field.clientID.rawValue }
        if event.targetSeq != nil { mask |= Field.targetSeq.rawValue }
        if event.targetUser != nil { mask |= Field.targetUser.rawValue }
        if event.title != nil { mask |= Field.title.rawValue }
        if event.record != nil { mask |= Field.record.rawValue }
        if event.role != nil { mask |= Field.role.rawValue }
        if event.ref != nil { mask |= Field.ref.rawValue }
        if event.shares != nil { mask |= Field.shares.rawValue }
        if event.amounts != nil { mask |= Field.amounts.rawValue }
        if event.expiresAt != nil { mask |= Field.expiresAt.rawValue }
        if event.url != nil { mask |= Field.url.rawValue }
        if event.image != nil { mask |= Field.image.rawValue }
        if event.board != nil { mask |= Field.board.rawValue }
        if event.mediaMillis != nil { mask |= Field.mediaMillis.rawValue }
        if event.group != nil { mask |= Field.group.rawValue }
        Varint.append(mask, into: &out)
        if let name = event.name { putString(name, &out) }
        if let text = event.text { putString(text, &out) }
        if let amount = event.amount { Varint.append(zigzag(amount), into: &out) }
        if let currency = event.currency { putString(currency, &out) }
        if let clientID = event.clientID { putString(clientID, &out) }
        if let targetSeq = event.targetSeq { Varint.append(targetSeq, into: &out) }
        if let targetUser = event.targetUser { putString(targetUser, &out) }
        if let title = event.title { putString(title, &out) }
        if let record = event.record { out.append(record ? 1 : 0) }
        if let role = event.role { out.append(roleCodes[role]!) }
        if let ref = event.ref { putString(ref, &out) }
        if let shares = event.shares { Varint.append(zigzag(Int64(shares)), into: &out) }
        if let amounts = event.amounts {
            Varint.append(UInt64(amounts.count), into: &out)
            for amount in amounts { Varint.append(zigzag(amount), into: &out) }
        }
        if let expiresAt = event.expiresAt { Varint.append(zigzag(expiresAt), into: &out) }
        if let url = event.url { putString(url, &out) }
        if let image = event.image { putString(image, &out) }
        if let board = event.board { putBoard(board, &out) }
        if let mediaMillis = event.mediaMillis { Varint.append(zigzag(mediaMillis), into: &out) }
        if let group = event.group { putString(group, &out) }
        return out
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> LiveEvent {
        guard let first = bytes.first else { throw .empty }
        guard first == version else { throw .unknownVersion(first) }
        var reader = Reader(input: ByteReader(bytes[1...]))
        let seq = try reader.varint()
        let code = try reader.byte()
        guard let type = types[code] else { throw .unknownType(code) }
        let user = try reader.string()
        let at = unzigzag(try reader.varint())
        let mask = try reader.varint()
        guard mask & ~Field.all == 0 else { throw .unknownFields(mask & ~Field.all) }
        func has(_ field: Field) -> Bool { mask & field.rawValue != 0 }
        var event = LiveEvent(seq: seq, type: type, user: user, at: at)
        if has(.name) { event.name = try reader.string() }
        if has(.text) { event.text = try reader.string() }
        if has(.amount) { event.amount = unzigzag(try reader.varint()) }
        if has(.currency) { event.currency = try reader.string() }
        if has(.clientID) { event.clientID = try reader.string() }
        if has(.targetSeq) { event.targetSeq = try reader.varint() }
        if has(.targetUser) { event.targetUser = try reader.string() }
        if has(.title) { event.title = try reader.string() }
        if has(.record) { event.record = try reader.byte() != 0 }
        if has(.role) {
            let code = try reader.byte()
            guard let role = roles[code] else { throw .unknownRole(code) }
            event.role = role
        }
        if has(.ref) { event.ref = try reader.string() }
        if has(.shares) { event.shares = try reader.int() }
        if has(.amounts) {
            let count = try reader.count()
            var amounts: [Int64] = []
            amounts.reserveCapacity(count)
            for _ in 0..<count { amounts.append(unzigzag(try reader.varint())) }
            event.amounts = amounts
        }
        if has(.expiresAt) { event.expiresAt = unzigzag(try reader.varint()) }
        if has(.url) { event.url = try reader.string() }
        if has(.image) { event.image = try reader.string() }
        if has(.board) { event.board = try reader.board() }
        if has(.mediaMillis) { event.mediaMillis = unzigzag(try reader.varint()) }
        if has(.group) { event.group = try reader.string() }
        guard reader.input.isAtEnd else { throw .trailingBytes(reader.input.remaining) }
        return event
    }

    /// The codec's view of a `ByteReader`, with its errors in this codec's terms.
    private struct Reader {
        var input: ByteReader

        mutating func byte() throws(DecodeError) -> UInt8 {
            do {
                return try input.readByte()
            } catch {
                throw .truncated
            }
        }

        /// Strict, like every codec of the cores: overlong encodings and values over 64 bits are
        /// refused, so each event has one encoding.
        mutating func varint() throws(DecodeError) -> UInt64 {
            do {
                return try input.readVarint()
            } catch {
                switch error {
                case .truncated: throw .truncated
                case .overlongVarint, .varintOverflow: throw .badVarint
                }
            }
        }

        /// A count of items that each take at least one byte: never more than what is left, so a
        /// forged count cannot make the decoder reserve memory the input does not back.
        mutating func count() throws(DecodeError) -> Int {
            let count = try varint()
            guard count <= UInt64(input.remaining) else { throw .truncated }
            return Int(count)
        }

        mutating func int() throws(DecodeError) -> Int {
            let value = LiveEventCodec.unzigzag(try varint())
            guard let int = Int(exactly: value) else { throw .badVarint }
            return int
        }

        /// Kind code, then a presence byte (1 page, 2 color, 4 width) and the present fields,
        /// then the point count and the coordinates.
        mutating func board() throws(DecodeError) -> LiveBoard {
            let code = try byte()
            guard let kind = LiveEventCodec.boardKinds[code] else { throw .badBoard }
            let present = try byte()
            guard present & ~7 == 0 else { throw .badBoard }
            var board = LiveBoard(kind: kind)
            if present & 1 != 0 { board.page = try int() }
            if present & 2 != 0 { board.color = try string() }
            if present & 4 != 0 { board.width = try int() }
            let count = try count()
            board.points.reserveCapacity(count)
            for _ in 0..<count {
                let value = try varint()
                guard value <= UInt64(UInt16.max) else { throw .badBoard }
                board.points.append(UInt16(value))
            }
            return board
        }

        mutating func string() throws(DecodeError) -> String {
            let count = try varint()
            guard count <= UInt64(input.remaining), let bytes = try? input.readBytes(Int(count)) else {
                throw .truncated
            }
            guard let string = String(validating: bytes, as: UTF8.self) else { throw .badUTF8 }
            return string
        }
    }

    private static func putString(_ string: String, _ out: inout [UInt8]) {
        Varint.append(UInt64(string.utf8.count), into: &out)
        out.append(contentsOf: string.utf8)
    }

    private static func putBoard(_ board: LiveBoard, _ out: inout [UInt8]) {
        out.append(boardCodes[board.kind]!)
        out.append((board.page != nil ? 1 : 0) | (board.color != nil ? 2 : 0) | (board.width != nil ? 4 : 0))
        if let page = board.page { Varint.append(zigzag(Int64(page)), into: &out) }
        if let color = board.color { putString(color, &out) }
        if let width = board.width { Varint.append(zigzag(Int64(width)), into: &out) }
        Varint.append(UInt64(board.points.count), into: &out)
        for point in board.points { Varint.append(UInt64(point), into: &out) }
    }

    private static func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }
    fileprivate static func unzigzag(_ value: UInt64) -> Int64 {
        Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1)
    }
}
