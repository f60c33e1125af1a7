/// An AMF0 value (Action Message Format 0, Adobe's 2007 specification): what RTMP commands
/// (`connect`, `publish`, `onStatus`, ...) and `onMetaData` are written in.
public indirect enum AMF0Value: Equatable, Sendable {
    case number(Double)
    case boolean(Bool)
    case string(String)
    case object([AMF0Property])
    case null
    case undefined
    case ecmaArray([AMF0Property])
    case strictArray([AMF0Value])
    case date(Double)

    /// A property of an object or ECMA array, by name.
    public subscript(name: String) -> AMF0Value? {
        switch self {
        case .object(let properties), .ecmaArray(let properties): properties.first { $0.name == name }?.value
        default: nil
        }
    }

    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var number: Double? { if case .number(let n) = self { n } else { nil } }
}

public struct AMF0Property: Equatable, Sendable {
    public var name: String
    public var value: AMF0Value

    public init(_ name: String, _ value: AMF0Value) {
        self.name = name
        self.value = value
    }
}

/// Reads and writes AMF0. Reading is bounded by its input (every count and length is checked
/// against the bytes left) and by nesting depth, so hostile bytes cost at most their own size.
public enum AMF0 {
    static let maximumDepth = 8

    /// Every value in `bytes`, in order.
    public static func decode(_ bytes: some Collection<UInt8>) throws(RTMPError) -> [AMF0Value] {
        var reader = Reader(bytes: Array(bytes))
        var values: [AMF0Value] = []
        while reader.offset < reader.bytes.count { values.append(try reader.value(depth: 0)) }
        return values
    }

    public static func encode(_ values: [AMF0Value]) -> [UInt8] {
        var out: [UInt8] = []
        for value in values { write(value, into: &out) }
        return out
    }

    private static func write(_ value: AMF0Value, into out: inout [UInt8]) {
        switch value {
        case .number(let n):
            out.append(0x00)
            appendDouble(n, into: &out)
        case .boolean(let b): out += [0x01, b ? 1 : 0]
        case .string(let s):
            let utf8 = Array(s.utf8)
            if utf8.count > 0xFFFF {
                out.append(0x0C)
                appendUInt32(UInt32(utf8.count), into: &out)
            } else {
                out.append(0x02)
                out += [UInt8(utf8.count >> 8), UInt8(utf8.count & 0xFF)]
            }
            out += utf8
        case .object(let properties):
            out.append(0x03)
            writeProperties(properties, into: &out)
        case .null: out.append(0x05)
        case .undefined: out.append(0x06)
        case .ecmaArray(let properties):
            out.append(0x08)
            appendUInt32(UInt32(properties.count), into: &out)
            writeProperties(properties, into: &out)
        case .strictArray(let values):
            out.append(0x0A)
            appendUInt32(UInt32(values.count), into: &out)
            for value in values { write(value, into: &out) }
        case .date(let ms):
            out.append(0x0B)
            appendDouble(ms, into: &out)
            out += [0, 0]  // time zone, unused
        }
    }

    private static func writeProperties(_ properties: [AMF0Property], into out: inout [UInt8]) {
        for property in properties {
            let name = Array(property.name.utf8.prefix(0xFFFF))
            out += [UInt8(name.count >> 8), UInt8(name.count & 0xFF)] + name
            write(property.value, into: &out)
        }
        out += [0, 0, 0x09]
    }

    private static func appendDouble(_ value: Double, into out: inout [UInt8]) {
        let bits = value.bitPattern
        for shift in stride(from: 56, through: 0, by: -8) {
            out.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift)))
        }
    }

    private static func appendUInt32(_ value: UInt32, into out: inout [UInt8]) {
        for shift in stride(from: 24, through: 0, by: -8) {
            out.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func take(_ count: Int) throws(RTMPError) -> ArraySlice<UInt8> {
            guard count >= 0, count <= bytes.count - offset else { throw .badAMF("truncated") }
            defer { offset += count }
            return bytes[offset..<(offset + count)]
        }

        mutating func uint(_ size: Int) throws(RTMPError) -> Int {
            try take(size).reduce(0) { $0 << 8 | Int($1) }
        }

        mutating func double() throws(RTMPError) -> Double {
            Double(bitPattern: try take(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        }

        mutating func string(lengthSize: Int) throws(RTMPError) -> String {
            let length = try uint(lengthSize)
            return String(decoding: try take(length), as: UTF8.self)
        }

        mutating func value(depth: Int) throws(RTMPError) -> AMF0Value {
            guard depth <= AMF0.maximumDepth else { throw .badAMF("nested deeper than \(AMF0.maximumDepth)") }
            let marker = try take(1).first!
            switch marker {
            case 0x00: return .number(try double())
            case 0x01: return .boolean(try take(1).first! != 0)
            case 0x02: return .string(try string(lengthSize: 2))
            case 0x03: return .object(try properties(depth: depth))
            case 0x05: return .null
            case 0x06: return .undefined
            case 0x08:
                _ = try uint(4)  // a hint only: the end marker ends it
                return .ecmaArray(try properties(depth: depth))
            case 0x0A:
                let count = try uint(4)
                // Each value takes at least one byte: a count beyond the bytes left is a lie.
                guard count <= bytes.count - offset else { throw .badAMF("array of \(count) in fewer bytes") }
                var values: [AMF0Value] = []
                for _ in 0..<count { values.append(try value(depth: depth + 1)) }
                return .strictArray(values)
            case 0x0B:
                let ms = try double()
                _ = try take(2)
                return .date(ms)
            case 0x0C: return .string(try string(lengthSize: 4))
            default: throw .badAMF("marker 0x\(String(marker, radix: 16))")
            }
        }

        mutating func properties(depth: Int) throws(RTMPError) -> [AMF0Property] {
            var properties: [AMF0Property] = []
            while true {
                let name = try string(lengthSize: 2)
                if name.isEmpty, offset < bytes.count, bytes[offset] == 0x09 {
                    offset += 1
                    return properties
                }
                properties.append(AMF0Property(name, try value(depth: depth + 1)))
            }
        }
    }
}
