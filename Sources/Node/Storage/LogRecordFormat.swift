/// How records are laid out in an `AppendLog` file, and how a file is read back and checked.
///
/// A record written since v1.1 is a frame:
/// ```
/// 0xFE | length: UInt32 LE | crc: UInt32 LE | body: `length` bytes
/// ```
/// where `crc` is the CRC-32C of the four length bytes followed by the body, so a flipped bit in
/// the length is caught as surely as one in the body. Bodies are binary (no escaping). Records of
/// the earlier format are lines: bytes up to a `\n`, no checksum. They never start with 0xFE (they
/// start with an ASCII letter or `{`), so one file can hold both: a log written before an upgrade
/// goes on with frames after it, and reads back whole.
///
/// Reading stops at the first record that is not whole and right: a frame or line cut short at
/// the end of the file (`torn`: a crash during a write that was never acknowledged), or a frame
/// whose checksum or length is wrong, or bytes that are neither (`corrupt`). Everything before it
/// is the valid prefix; what to do with the rest is the caller's choice (`ReplicaStore` moves the
/// file aside and keeps the prefix).
public enum LogRecordFormat {
    static let frameMarker: UInt8 = 0xFE
    static let headerSize = 9
    /// No record is this large (an event is at most a few KiB): a larger length is corruption, and
    /// reading it must not allocate gigabytes.
    static let maxBodySize = 64 << 20

    /// The frame of one record.
    static func frame(_ body: [UInt8], into out: inout [UInt8]) {
        let length = UInt32(body.count)
        let lengthBytes: [UInt8] = [
            UInt8(length & 0xFF), UInt8((length >> 8) & 0xFF), UInt8((length >> 16) & 0xFF), UInt8(length >> 24),
        ]
        let crc = CRC32C.checksum(body, continuing: CRC32C.checksum(lengthBytes))
        out.append(frameMarker)
        out.append(contentsOf: lengthBytes)
        out.append(contentsOf: [
            UInt8(crc & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8((crc >> 16) & 0xFF), UInt8(crc >> 24),
        ])
        out.append(contentsOf: body)
    }

    /// Where and why reading stopped before the end of the file.
    public struct Damage: Sendable, Equatable, CustomStringConvertible {
        public enum Kind: String, Sendable {
            /// The last record ends before its end: a write cut short (crash, full disk).
            case torn
            /// A record's checksum, length or contents are wrong.
            case corrupt
        }
        public var kind: Kind
        /// Byte offset of the first bad record: the length of the valid prefix.
        public var offset: Int
        /// Index of the first bad record (0-based), counting the good ones before it.
        public var record: Int
        public var reason: String

        public var description: String { "\(kind.rawValue) record \(record) at byte \(offset): \(reason)" }
    }

    /// The records of a file, in order, up to the first damaged one.
    public struct Scan: Sendable {
        public var records: [[UInt8]] = []
        /// End offset of each record in `records`: the valid prefix up to and including it.
        public var ends: [Int] = []
        public var damage: Damage?
        /// Total bytes in the file.
        public var size = 0
    }

    /// Splits `bytes` into records, verifying every frame.
    public static func scan(_ bytes: [UInt8]) -> Scan {
        var scan = Scan()
        scan.size = bytes.count
        var offset = 0
        func stop(_ kind: Damage.Kind, _ reason: String) -> Scan {
            var damaged = scan
            damaged.damage = Damage(kind: kind, offset: offset, record: scan.records.count, reason: reason)
            return damaged
        }
        while offset < bytes.count {
            if bytes[offset] == frameMarker {
                guard bytes.count - offset >= headerSize else { return stop(.torn, "frame header cut short") }
                let length =
                    Int(bytes[offset + 1]) | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3]) << 16
                    | Int(bytes[offset + 4]) << 24
                let stored =
                    UInt32(bytes[offset + 5]) | UInt32(bytes[offset + 6]) << 8 | UInt32(bytes[offset + 7]) << 16
                    | UInt32(bytes[offset + 8]) << 24
                guard length <= maxBodySize else { return stop(.corrupt, "length \(length) out of range") }
                let start = offset + headerSize
                guard bytes.count - start >= length else {
                    // A frame that runs past the end of the file: a write cut short (or a length
                    // corrupted upwards; either way nothing after it can be read).
                    return stop(.torn, "frame of \(length) bytes cut short at \(bytes.count - start)")
                }
                let body = bytes[start..<start + length]
                let crc = CRC32C.checksum(body, continuing: CRC32C.checksum(bytes[offset + 1..<offset + 5]))
                guard crc == stored else { return stop(.corrupt, "checksum mismatch") }
                scan.records.append(Array(body))
                offset = start + length
                scan.ends.append(offset)
            } else {
                // A line of the format before checksums.
                guard let newline = bytes[offset...].firstIndex(of: UInt8(ascii: "\n")) else {
                    return stop(.torn, "line without its newline")
                }
                scan.records.append(Array(bytes[offset..<newline]))
                offset = newline + 1
                scan.ends.append(offset)
            }
        }
        return scan
    }
}
