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
    /// `started`: whether the session is recorded for replay.
    public var record: Bool?
    /// The actor's group role when the event was decided (internal: not in the public shape).
    /// Lets every replica learn the rank of the users it has seen, for moderation (`LiveRank`).
    /// Absent in logs written before it existed.
    public var role: LiveRole?

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
        role: LiveRole? = nil
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
    }
}

/// A JSON scalar, enough for the event shape; keeps Sources free of Foundation.
public enum LiveJSONValue: Sendable, Equatable {
    case string(String)
    case int(Int64)
    case uint(UInt64)
    case bool(Bool)
    case null
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
        if let text { fields.append(("text", .string(text))) }
        if let amount { fields.append(("amount", .int(amount))) }
        if let currency { fields.append(("currency", .string(currency))) }
        if let targetSeq { fields.append(("question", .uint(targetSeq))) }
        if let targetUser { fields.append(("target", .string(targetUser))) }
        if let title { fields.append(("title", .string(title))) }
        if let record { fields.append(("record", .bool(record))) }
        if let clientID { fields.append(("id", .string(clientID))) }
        fields.append(("at", .string(LiveRFC3339.format(millis: at))))
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
            switch value {
            case .string(let string): appendString(string, to: &out)
            case .int(let int): out += String(int)
            case .uint(let uint): out += String(uint)
            case .bool(let bool): out += bool ? "true" : "false"
            case .null: out += "null"
            }
        }
        out += "}"
        return out
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
