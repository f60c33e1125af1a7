/// The kinds of logged session events; raw values are the SSE `event:` names and the `type` field.
public enum LiveEventType: String, Codable, Sendable, CaseIterable {
    case started
    case comment
    case tip
    case question
    case highlight
    case pin
    case unpin
    case mute
    case unmute
    case kick
    case ended
    /// A red packet was sent: its shares are split now, once (`RedPacketSplit`).
    case redpacket
    /// One share of a red packet was taken.
    case redpacketGrab = "redpacket_grab"
    /// A red packet's unclaimed shares went back to its sender (TTL, or the live ended).
    case redpacketExpired = "redpacket_expired"
    /// A product card was posted or updated.
    case product
    /// A product card was put in the spotlight.
    case spotlight
    /// A user clicked a product card (logged once per user and product).
    case click
    /// Courseware and whiteboard: a slide, a stroke or a clear.
    case board
    /// The live was shared into another group (`ref`: that group).
    case shared
    /// The live stopped being shared into a group (`ref`).
    case unshared
    /// Group log: a live was scheduled (`ref`: schedule id, `title`, `expiresAt`: its start).
    case scheduled
    /// Group log: a schedule was cancelled (`ref`).
    case unscheduled
    /// Group log: the primary's timer reminded of a schedule (`ref`, `text`: `lead` or `start`).
    case reminded
    /// Group log: a live that started named the schedule it fulfils (`ref`, `text`: its session).
    case fulfilled
}

/// One entry of a session's log. The log is the session: state is derived only by applying these
/// in seq order, and replication ships them between nodes unchanged (synthesized `Codable` is the
/// internal format; `apiJSON()` is the public SSE/replay shape).
public struct LiveEvent: Codable, Sendable, Equatable, Hashable {
    /// Position in the session's one total order, from 1, no gaps.
    public var seq: UInt64
    public var type: LiveEventType
    /// The actor: who wrote, tipped, moderated, started or ended.
    public var user: String
    /// The actor's display name when the event was decided.
    public var name: String?
    /// Milliseconds since the Unix epoch; non-decreasing along the log.
    public var at: Int64
    /// `comment`, `question`, `pin`: the trimmed text.
    public var text: String?
    /// `tip`: cents (minor units), > 0.
    public var amount: Int64?
    /// `tip`: ISO 4217 code.
    public var currency: String?
    /// `comment`, `tip`, `question`: the client's idempotency key (API `id`).
    public var clientID: String?
    /// `highlight`: the question's seq (API `question`).
    public var targetSeq: UInt64?
    /// `mute`, `unmute`, `kick`: the user acted on (API `target`).
    public var targetUser: String?
    /// `started`: the session title.
    public var title: String?
    /// `started`: whether the session is recorded for replay; `ended`: true when it was.
    public var record: Bool?
    /// The actor's group role when the event was decided (internal: not in the public shape).
    /// Lets every replica learn the rank of the users it has seen, for moderation (`LiveRank`).
    /// Absent in logs written before it existed.
    public var role: LiveRole?
    /// `redpacket_grab`, `redpacket_expired`: the red packet's id; `spotlight`, `click`: the
    /// product's id (API `redpacket` / `product`).
    public var ref: String?
    /// `redpacket`: how many shares; `redpacket_grab`: shares left after it;
    /// `redpacket_expired`: shares never taken.
    public var shares: Int?
    /// `redpacket`: the split, in the order grabs take it (internal: never shown, so nobody knows
    /// the amounts ahead). Decided once by the primary; every replica hands out the same ones.
    public var amounts: [Int64]?
    /// `redpacket`: when unclaimed shares expire, ms since the Unix epoch.
    public var expiresAt: Int64?
    /// `product`: the shop link; `board` slides: the courseware.
    public var url: String?
    /// `product`: the picture.
    public var image: String?
    /// `board`: what was drawn or shown.
    public var board: LiveBoard?
    /// Where on the live's media timeline the event was decided, in ms (API `mediaTime`, in
    /// seconds): the replay's timeline, so its events line up with its video. Nil before media.
    public var mediaMillis: Int64?
    /// The writer's group when they wrote through a group the live was shared into (API
    /// `group`); nil for the session's own group.
    public var group: String?

    public init(
        seq: UInt64,
        type: LiveEventType,
        user: String,
        name: String? = nil,
        at: Int64,
        text: String? = nil,
        amount: Int64? = nil,
        currency: String? = nil,
        clientID: String? = nil,
        targetSeq: UInt64? = nil,
        targetUser: String? = nil,
        title: String? = nil,
        record: Bool? = nil,
        role: LiveRole? = nil,
        ref: String? = nil,
        shares: Int? = nil,
        amounts: [Int64]? = nil,
        expiresAt: Int64? = nil,
        url: String? = nil,
        image: String? = nil,
        board: LiveBoard? = nil,
        mediaMillis: Int64? = nil,
        group: String? = nil
    ) {
        self.seq = seq
        self.type = type
        self.user = user
        self.name = name
        self.at = at
        self.text = text
        self.amount = amount
        self.currency = currency
        self.clientID = clientID
        self.targetSeq = targetSeq
        self.targetUser = targetUser
        self.title = title
        self.record = record
        self.role = role
        self.ref = ref
        self.shares = shares
        self.amounts = amounts
        self.expiresAt = expiresAt
        self.url = url
        self.image = image
        self.board = board
        self.mediaMillis = mediaMillis
        self.group = group
    }
}

/// A JSON scalar, enough for the event shape; keeps Sources free of Foundation.
public enum LiveJSONValue: Sendable, Equatable {
    case string(String)
    case int(Int64)
    case uint(UInt64)
    case bool(Bool)
    case null
    /// A time in seconds held as milliseconds: rendered with up to 3 decimals (`12.5`, `0.042`).
    case seconds(millis: Int64)
    /// A fraction held in ten-thousandths: rendered with up to 4 decimals (`0.25`, `1`).
    case fraction(tenThousandths: Int)
    case array([LiveJSONValue])
}

extension LiveEvent {
    /// The public (SSE `data:`, replay log) shape as an ordered key list, absent fields omitted:
    /// `seq, type, user, name, text, amount, currency, question, target, title, record, id, at`.
    /// `at` is RFC 3339 UTC. The order is fixed so every node renders byte-identical events.
    public func apiJSONObject() -> [(String, LiveJSONValue)] {
        var fields: [(String, LiveJSONValue)] = [
            ("seq", .uint(seq)), ("type", .string(type.rawValue)), ("user", .string(user)),
        ]
        if let name { fields.append(("name", .string(name))) }
        if let group { fields.append(("group", .string(group))) }
        if let clientID, type == .redpacket || type == .product { fields.append(("id", .string(clientID))) }
        if let ref {
            let key =
                switch type {
                case .spotlight, .click: "product"
                case .shared, .unshared: "into"
                case .started: "sharedFrom"
                case .scheduled, .unscheduled, .reminded, .fulfilled: "schedule"
                default: "redpacket"
                }
            fields.append((key, .string(ref)))
        }
        if let text {
            let key =
                switch type {
                case .reminded: "reminder"
                case .fulfilled: "session"
                default: "text"
                }
            fields.append((key, .string(text)))
        }
        if let title { fields.append(("title", .string(title))) }
        if let amount {
            let key = type == .redpacket ? "total" : type == .product ? "price" : "amount"
            fields.append((key, .int(amount)))
        }
        if let currency { fields.append(("currency", .string(currency))) }
        if let shares { fields.append(("shares", .int(Int64(shares)))) }
        if let expiresAt {
            let key = type == .scheduled || type == .reminded ? "startsAt" : "expiresAt"
            fields.append((key, .string(LiveRFC3339.format(millis: expiresAt))))
        }
        if let url { fields.append(("url", .string(url))) }
        if let image { fields.append(("image", .string(image))) }
        if let board { fields.append(contentsOf: board.apiJSONObject()) }
        if let targetSeq { fields.append(("question", .uint(targetSeq))) }
        if let targetUser { fields.append(("target", .string(targetUser))) }
        if let record { fields.append(("record", .bool(record))) }
        if let clientID, type != .redpacket, type != .product { fields.append(("id", .string(clientID))) }
        fields.append(("at", .string(LiveRFC3339.format(millis: at))))
        if let mediaMillis { fields.append(("mediaTime", .seconds(millis: mediaMillis))) }
        return fields
    }

    /// The public shape rendered as compact JSON, e.g.
    /// `{"seq":42,"type":"comment","user":"u1","name":"Ann","text":"hi","at":"2026-11-25T10:00:00Z"}`.
    public func apiJSON() -> String {
        LiveJSON.render(apiJSONObject())
    }

    /// The public shape as an `Encodable`, for encoders that want one (key order as above where
    /// the encoder keeps insertion order).
    public var apiView: LiveEventAPIView { LiveEventAPIView(event: self) }
}

/// `Encodable` view of an event in the public shape.
public struct LiveEventAPIView: Encodable, Sendable {
    public let event: LiveEvent

    public init(event: LiveEvent) { self.event = event }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        for (key, value) in event.apiJSONObject() {
            let codingKey = Key(stringValue: key)
            switch value {
            case .string(let string): try container.encode(string, forKey: codingKey)
            case .int(let int): try container.encode(int, forKey: codingKey)
            case .uint(let uint): try container.encode(uint, forKey: codingKey)
            case .bool(let bool): try container.encode(bool, forKey: codingKey)
            case .null: try container.encodeNil(forKey: codingKey)
            case .seconds, .fraction, .array: try container.encode(LiveJSONFragment(value), forKey: codingKey)
            }
        }
    }
}

/// Minimal compact JSON rendering of flat objects (RFC 8259 string escaping).
public enum LiveJSON {
    /// Renders `fields` as one JSON object, keys in the given order.
    public static func render(_ fields: [(String, LiveJSONValue)]) -> String {
        var out = "{"
        for (index, (key, value)) in fields.enumerated() {
            if index > 0 { out += "," }
            appendString(key, to: &out)
            out += ":"
            append(value, to: &out)
        }
        out += "}"
        return out
    }

    /// Renders one value. Numbers with decimals are rendered from integers, so every node
    /// writes the same bytes for the same event.
    static func append(_ value: LiveJSONValue, to out: inout String) {
        switch value {
        case .string(let string): appendString(string, to: &out)
        case .int(let int): out += String(int)
        case .uint(let uint): out += String(uint)
        case .bool(let bool): out += bool ? "true" : "false"
        case .null: out += "null"
        case .seconds(let millis): appendDecimal(millis, places: 3, to: &out)
        case .fraction(let tenThousandths): appendDecimal(Int64(tenThousandths), places: 4, to: &out)
        case .array(let values):
            out += "["
            for (index, value) in values.enumerated() {
                if index > 0 { out += "," }
                append(value, to: &out)
            }
            out += "]"
        }
    }

    /// `value / 10^places` in plain decimal, trailing zeros dropped: `12500, 3` → `12.5`.
    static func appendDecimal(_ value: Int64, places: Int, to out: inout String) {
        if value < 0 { out += "-" }
        let magnitude = value.magnitude
        var scale: UInt64 = 1
        for _ in 0..<places { scale *= 10 }
        out += String(magnitude / scale)
        var fraction = String(magnitude % scale)
        guard fraction != "0" else { return }
        fraction = String(repeating: "0", count: places - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        out += "." + fraction
    }

    /// Appends `string` quoted and escaped: `"` `\` and control characters; U+2028/U+2029 too,
    /// so the data line is also safe to embed in JavaScript.
    static func appendString(_ string: String, to out: inout String) {
        out += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\u{00}"..."\u{1F}", "\u{2028}", "\u{2029}":
                let hex = String(scalar.value, radix: 16, uppercase: false)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

/// A nested or decimal value inside the `Encodable` view, written as the same JSON numbers and
/// arrays `LiveJSON.render` writes.
struct LiveJSONFragment: Encodable {
    let value: LiveJSONValue

    init(_ value: LiveJSONValue) { self.value = value }

    func encode(to encoder: any Encoder) throws {
        switch value {
        case .string(let string):
            var container = encoder.singleValueContainer()
            try container.encode(string)
        case .int(let int):
            var container = encoder.singleValueContainer()
            try container.encode(int)
        case .uint(let uint):
            var container = encoder.singleValueContainer()
            try container.encode(uint)
        case .bool(let bool):
            var container = encoder.singleValueContainer()
            try container.encode(bool)
        case .null:
            var container = encoder.singleValueContainer()
            try container.encodeNil()
        case .seconds(let millis):
            var container = encoder.singleValueContainer()
            try container.encode(Double(millis) / 1000)
        case .fraction(let tenThousandths):
            var container = encoder.singleValueContainer()
            try container.encode(Double(tenThousandths) / 10_000)
        case .array(let values):
            var container = encoder.unkeyedContainer()
            for value in values { try container.encode(LiveJSONFragment(value)) }
        }
    }
}
