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
    }

    /// Type codes: stable on disk, whatever order the enum's cases are in.
    static let typeCodes: [LiveEventType: UInt8] = [
        .started: 1, .comment: 2, .tip: 3, .question: 4, .highlight: 5, .pin: 6, .unpin: 7, .mute: 8,
        .unmute: 9, .kick: 10, .ended: 11,
    ]
    static let types: [UInt8: LiveEventType] = Dictionary(uniqueKeysWithValues: typeCodes.map { ($1, $0) })
    /// Role codes: stable on disk.
    static let roleCodes: [LiveRole: UInt8] = [.member: 1, .admin: 2, .owner: 3]
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
        static let all: UInt64 = 1023
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

    private static func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }
    private static func unzigzag(_ value: UInt64) -> Int64 {
        Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1)
    }
}
