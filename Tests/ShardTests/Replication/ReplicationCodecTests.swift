import Determinism
import Testing

@testable import Shard

/// The binary replication codec: every kind round-trips, the layout is pinned, and no input (cut,
/// garbage, hostile lengths, bad UTF-8) crashes or makes it allocate past its limits.
@Suite struct ReplicationCodecTests {
    static let samples: [ReplicationMessage] = [
        message(.append(prevSeq: 0, prevEpoch: 0, entries: [], commitSeq: 0)),
        message(
            .append(
                prevSeq: 41,
                prevEpoch: 3,
                entries: [
                    ReplicationEntry(seq: 42, epoch: 3, kind: .data([1, 2, 3])),
                    ReplicationEntry(seq: 43, epoch: 4, kind: .data([])),
                    ReplicationEntry(seq: 44, epoch: 4, kind: .config(["a", "b", "ノード-c"])),
                    ReplicationEntry(seq: 45, epoch: 4, kind: .config([])),
                ],
                commitSeq: 40
            )
        ),
        message(.appendAck(success: true, matchSeq: 300, lastSeq: 301)),
        message(.appendAck(success: false, matchSeq: 0, lastSeq: .max)),
        message(.requestVote(lastSeq: 7, lastEpoch: 2, transfer: false)),
        message(.requestVote(lastSeq: 1 << 40, lastEpoch: 1 << 20, transfer: true)),
        message(.vote(granted: true)),
        message(.vote(granted: false)),
        message(.installSnapshot(ReplicationSnapshot(seq: 9, epoch: 2, members: ["a", "b"], data: [0, 0xFF]))),
        message(.installSnapshot(ReplicationSnapshot(seq: 0, epoch: 0, members: [], data: []))),
        message(.snapshotAck(matchSeq: 123_456_789)),
        message(.timeoutNow),
        message(.preVoteRequest(lastSeq: 7, lastEpoch: 2)),
        message(.preVoteRequest(lastSeq: .max, lastEpoch: .max)),
        message(.preVote(granted: true)),
        message(.preVote(granted: false)),
        ReplicationMessage(session: "séance-🎥-直播", sender: "nœud-Ω", epoch: .max, kind: .timeoutNow),
        ReplicationMessage(session: "", sender: "", epoch: 0, kind: .vote(granted: true)),
    ]

    @Test(arguments: samples) func roundTripsEveryKind(_ message: ReplicationMessage) throws {
        let bytes = ReplicationCodec.encode(message)
        #expect(bytes.count == ReplicationCodec.encodedSize(message))
        #expect(try ReplicationCodec.decode(bytes) == message)
    }

    /// Pins the version 1 layout: a change here is a wire format change.
    @Test func pinsTheLayoutWithAGoldenEncoding() {
        let vote = ReplicationMessage(session: "s", sender: "é", epoch: 300, kind: .vote(granted: true))
        #expect(ReplicationCodec.encode(vote) == [1, 4, 1, 0x73, 2, 0xC3, 0xA9, 0xAC, 0x02, 1])
        let append = ReplicationMessage(
            session: "s",
            sender: "a",
            epoch: 2,
            kind: .append(
                prevSeq: 1000,
                prevEpoch: 1,
                entries: [
                    ReplicationEntry(seq: 1001, epoch: 2, kind: .data([0xAB])),
                    ReplicationEntry(seq: 1002, epoch: 2, kind: .config(["b"])),
                ],
                commitSeq: 999
            )
        )
        // Contiguous entries cost one byte of seq each (delta 0).
        #expect(
            ReplicationCodec.encode(append) == [
                1, 1, 1, 0x73, 1, 0x61, 2,  // version, append, "s", "a", epoch
                0xE8, 0x07, 1, 0xE7, 0x07, 2,  // prevSeq 1000, prevEpoch 1, commitSeq 999, 2 entries
                0, 2, 1, 1, 0xAB,  // seq +0, epoch 2, data [0xAB]
                0, 2, 2, 1, 1, 0x62,  // seq +0, epoch 2, config ["b"]
            ]
        )
    }

    /// Pins the pre-vote kinds added to version 1: new tags, the same header, so a node from
    /// before them refuses just these messages (`unknownKind`) and reads every other kind.
    @Test func pinsThePreVoteTags() throws {
        let request = ReplicationMessage(
            session: "s",
            sender: "b",
            epoch: 3,
            kind: .preVoteRequest(lastSeq: 300, lastEpoch: 2)
        )
        #expect(ReplicationCodec.encode(request) == [1, 8, 1, 0x73, 1, 0x62, 3, 0xAC, 0x02, 2])
        let answer = ReplicationMessage(session: "s", sender: "a", epoch: 3, kind: .preVote(granted: false))
        #expect(ReplicationCodec.encode(answer) == [1, 9, 1, 0x73, 1, 0x61, 3, 0])
        var bad = ReplicationCodec.encode(answer)
        bad[bad.count - 1] = 7
        #expect(throws: ReplicationCodecError.invalidBool(7)) { try ReplicationCodec.decode(bad) }
        #expect(throws: ReplicationCodecError.truncated) { try ReplicationCodec.decode(Array(bad.dropLast())) }
        #expect(throws: ReplicationCodecError.trailingBytes(1)) {
            try ReplicationCodec.decode(ReplicationCodec.encode(request) + [0])
        }
    }

    @Test func roundTripsEdgeCases() throws {
        let big = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let cases = [
            // The biggest data entry the default limits accept.
            message(
                .append(prevSeq: 5, prevEpoch: 1, entries: [.init(seq: 6, epoch: 1, kind: .data(big))], commitSeq: 5)
            ),
            message(.installSnapshot(ReplicationSnapshot(seq: 1, epoch: 1, members: ["a"], data: big + big))),
            // Seqs that do not follow: the wrapping delta still round-trips them.
            message(
                .append(
                    prevSeq: .max,
                    prevEpoch: .max,
                    entries: [
                        .init(seq: 0, epoch: 0, kind: .data([])),
                        .init(seq: .max, epoch: .max, kind: .data([])),
                        .init(seq: 7, epoch: 1, kind: .data([])),
                        .init(seq: 3, epoch: 1, kind: .config([String(repeating: "é", count: 128)])),
                    ],
                    commitSeq: .max
                )
            ),
            ReplicationMessage(
                session: String(repeating: "🎥", count: 64),
                sender: "\u{0}\u{7F}\u{80}\u{FFFF}\u{10FFFF}",
                epoch: 1 << 63,
                kind: .snapshotAck(matchSeq: (1 << 63) - 1)
            ),
        ]
        for message in cases {
            let bytes = ReplicationCodec.encode(message)
            #expect(bytes.count == ReplicationCodec.encodedSize(message))
            #expect(try ReplicationCodec.decode(bytes) == message)
        }
    }

    @Test func roundTripsSeededRandomMessages() throws {
        var generator = MessageGenerator(seed: 0xC0DE)
        var buffer: [UInt8] = []
        for _ in 0..<5_000 {
            let message = generator.message()
            let start = buffer.count
            ReplicationCodec.encode(message, into: &buffer)
            #expect(buffer.count - start == ReplicationCodec.encodedSize(message))
            // A slice whose indices do not start at 0.
            #expect(try ReplicationCodec.decode(buffer[start...]) == message)
        }
    }

    @Test func roundTripsWhatAReplicaSetSends() throws {
        var harness = ReplicaHarness(["a", "b", "c"])
        harness.deliverAll()
        for byte in UInt8(0)..<20 { _ = harness.propose("a", byte) }
        harness.deliverAll()
        harness.tick("a", after: .milliseconds(500))
        harness.deliverAll()
        var sent = 0
        for directives in harness.history.values {
            for case .send(let message, _) in directives {
                sent += 1
                #expect(try ReplicationCodec.decode(ReplicationCodec.encode(message)) == message)
            }
        }
        #expect(sent > 10)
    }

    @Test func encodeAppendsToWhatIsThere() throws {
        var buffer: [UInt8] = [9, 9, 9]
        ReplicationCodec.encode(Self.samples[1], into: &buffer)
        ReplicationCodec.encode(Self.samples[2], into: &buffer)
        let first = ReplicationCodec.encodedSize(Self.samples[1])
        #expect(buffer.prefix(3) == [9, 9, 9])
        #expect(try ReplicationCodec.decode(buffer[3..<(3 + first)]) == Self.samples[1])
        #expect(try ReplicationCodec.decode(buffer[(3 + first)...]) == Self.samples[2])
    }

    /// Any cut of a valid encoding reads the same fields until the input runs out.
    @Test func everyTruncationFailsWithTruncated() {
        var generator = MessageGenerator(seed: 7)
        let messages = Self.samples + (0..<300).map { _ in generator.message() }
        // Every cut decodes a prefix, so cutting long encodings everywhere is quadratic: skip them.
        for message in messages where ReplicationCodec.encodedSize(message) <= 1_000 {
            let bytes = ReplicationCodec.encode(message)
            for cut in 0..<bytes.count {
                #expect(throws: ReplicationCodecError.truncated) { try ReplicationCodec.decode(bytes[..<cut]) }
            }
        }
    }

    @Test func randomGarbageNeverCrashes() {
        var rng = SeededGenerator(seed: 0xBAD)
        var decoded = 0
        for round in 0..<20_000 {
            let count = Int.random(in: 0..<64, using: &rng)
            // Half the rounds use tiny bytes: short lengths and one-byte varints, so some garbage
            // gets all the way through (and must then be canonical).
            let top: UInt8 = round % 2 == 0 ? 0xFF : 3
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...top, using: &rng) }
            // Most rounds get a valid version and kind, so the garbage reaches the bodies.
            if round % 4 != 0 && bytes.count >= 2 {
                bytes[0] = ReplicationCodec.version
                bytes[1] = UInt8.random(in: 1...7, using: &rng)
            }
            if decodeCanonically(bytes) != nil { decoded += 1 }
        }
        #expect(decoded > 0)
    }

    /// Flipped, inserted and removed bytes in valid encodings: either a typed error, or a message
    /// that re-encodes to exactly the input (the encoding is canonical).
    @Test func mutatedEncodingsFailOrDecodeCanonically() {
        var generator = MessageGenerator(seed: 99)
        var rng = SeededGenerator(seed: 100)
        for _ in 0..<5_000 {
            var bytes = ReplicationCodec.encode(generator.message())
            let at = Int.random(in: 0..<bytes.count, using: &rng)
            switch rng.next() % 3 {
            case 0: bytes[at] ^= UInt8.random(in: 1...255, using: &rng)
            case 1: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: at)
            default: bytes.remove(at: at)
            }
            _ = decodeCanonically(bytes)
        }
    }

    @Test func limitsAreCheckedBeforeAllocating() {
        let terabyte: UInt64 = 1 << 40
        // A 1 TB data entry declared in a few bytes.
        var entry = header(WireTag.append)
        entry.varints(0, 0, 0, 1)  // prevSeq, prevEpoch, commitSeq, one entry
        entry.varints(0, 0)  // seq delta, epoch
        entry.bytes.append(WireEntryTag.data)
        entry.varints(terabyte)
        #expect(throws: tooLarge("entry", terabyte, 4 << 20)) { try ReplicationCodec.decode(entry.bytes) }

        var entries = header(WireTag.append)
        entries.varints(0, 0, 0, terabyte)
        #expect(throws: tooLarge("entries", terabyte, 4096)) { try ReplicationCodec.decode(entries.bytes) }

        var session = Wire()
        session.bytes.append(WireTag.timeoutNow)
        session.varints(.max)
        #expect(throws: tooLarge("session", .max, 256)) { try ReplicationCodec.decode(session.bytes) }

        var members = header(WireTag.installSnapshot)
        members.varints(1, 1, terabyte)
        #expect(throws: tooLarge("members", terabyte, 64)) { try ReplicationCodec.decode(members.bytes) }

        var member = header(WireTag.installSnapshot)
        member.varints(1, 1, 1, 257)
        #expect(throws: tooLarge("member", 257, 256)) { try ReplicationCodec.decode(member.bytes) }

        var snapshot = header(WireTag.installSnapshot)
        snapshot.varints(1, 1, 0, terabyte)
        #expect(throws: tooLarge("snapshot", terabyte, 16 << 20)) { try ReplicationCodec.decode(snapshot.bytes) }

        // Under its limit but more than the input holds: refused without reserving 4000 entries.
        var short = header(WireTag.append)
        short.varints(0, 0, 0, 4000)
        short.bytes += [UInt8](repeating: 0, count: 100)
        #expect(throws: ReplicationCodecError.truncated) { try ReplicationCodec.decode(short.bytes) }

        let tiny = ReplicationCodec.Limits(maxTotalBytes: 8)
        #expect(throws: tooLarge("message", 9, 8)) {
            try ReplicationCodec.decode([UInt8](repeating: 1, count: 9), limits: tiny)
        }
    }

    @Test func limitsAcceptExactlyTheLimit() throws {
        let defaults = ReplicationCodec.Limits()
        #expect(defaults.maxStringBytes == 256)
        #expect(defaults.maxEntries == 4096)
        #expect(defaults.maxEntryBytes == 4 * 1024 * 1024)
        #expect(defaults.maxMembers == 64)
        #expect(defaults.maxTotalBytes == 16 * 1024 * 1024)

        let limits = ReplicationCodec.Limits(
            maxStringBytes: 4,
            maxEntries: 2,
            maxEntryBytes: 3,
            maxMembers: 2,
            maxTotalBytes: 1000
        )
        func check(_ message: ReplicationMessage, _ error: ReplicationCodecError?) throws {
            let bytes = ReplicationCodec.encode(message)
            if let error {
                #expect(throws: error) { try ReplicationCodec.decode(bytes, limits: limits) }
            } else {
                #expect(try ReplicationCodec.decode(bytes, limits: limits) == message)
            }
        }
        func short(_ kind: ReplicationMessage.Kind) -> ReplicationMessage {
            ReplicationMessage(session: "s", sender: "a", epoch: 1, kind: kind)
        }
        func append(_ entries: [ReplicationEntry.Kind]) -> ReplicationMessage {
            let entries = entries.enumerated().map { ReplicationEntry(seq: UInt64($0 + 1), epoch: 1, kind: $1) }
            return short(.append(prevSeq: 0, prevEpoch: 0, entries: entries, commitSeq: 0))
        }
        try check(append([.data([1, 2, 3]), .config(["abcd", "é"])]), nil)
        try check(append([.data([1, 2, 3, 4])]), tooLarge("entry", 4, 3))
        try check(append([.data([]), .data([]), .data([])]), tooLarge("entries", 3, 2))
        try check(append([.config(["a", "b", "c"])]), tooLarge("members", 3, 2))
        try check(append([.config(["abcde"])]), tooLarge("member", 5, 4))
        try check(ReplicationMessage(session: "éé", sender: "abcd", epoch: 0, kind: .timeoutNow), nil)
        try check(
            ReplicationMessage(session: "ééé", sender: "", epoch: 0, kind: .timeoutNow),
            tooLarge("session", 6, 4)
        )
        try check(
            ReplicationMessage(session: "", sender: "12345", epoch: 0, kind: .timeoutNow),
            tooLarge("sender", 5, 4)
        )
        // 7 bytes of header, 7 of snapshot fields and length: 986 bytes of data make exactly 1000.
        let snapshot = ReplicationSnapshot(seq: 1, epoch: 1, members: ["a"], data: [UInt8](repeating: 7, count: 986))
        try check(short(.installSnapshot(snapshot)), nil)
        let tooBig = ReplicationSnapshot(seq: 1, epoch: 1, members: ["a"], data: [UInt8](repeating: 7, count: 987))
        try check(short(.installSnapshot(tooBig)), tooLarge("message", 1001, 1000))
    }

    @Test func rejectsTrailingBytes() {
        for message in Self.samples {
            let bytes = ReplicationCodec.encode(message)
            #expect(throws: ReplicationCodecError.trailingBytes(1)) { try ReplicationCodec.decode(bytes + [0]) }
            #expect(throws: ReplicationCodecError.trailingBytes(3)) { try ReplicationCodec.decode(bytes + [1, 2, 3]) }
        }
    }

    @Test func rejectsInvalidUTF8() {
        let invalid: [[UInt8]] = [
            [0xFF],  // never valid
            [0x61, 0xC3],  // cut sequence
            [0xC0, 0x80],  // overlong NUL
            [0xED, 0xA0, 0x80],  // UTF-16 surrogate
            [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
            [0x80],  // lone continuation
        ]
        for string in invalid {
            var session = Wire()
            session.bytes.append(WireTag.timeoutNow)
            session.string(string)
            session.string([0x62])
            session.varints(1)
            #expect(throws: ReplicationCodecError.invalidUTF8) { try ReplicationCodec.decode(session.bytes) }

            var member = header(WireTag.installSnapshot)
            member.varints(1, 1, 2)
            member.string([0x61])
            member.string(string)
            member.varints(0)
            #expect(throws: ReplicationCodecError.invalidUTF8) { try ReplicationCodec.decode(member.bytes) }
        }
    }

    @Test func rejectsUnknownVersionsTagsBoolsAndVarints() {
        let vote = ReplicationCodec.encode(message(.vote(granted: true)))
        var bytes = vote
        bytes[0] = 2
        #expect(throws: ReplicationCodecError.unsupportedVersion(2)) { try ReplicationCodec.decode(bytes) }
        // 8 and 9 are the pre-vote kinds (added after 1-7, same version); 10 is the first unknown.
        for tag: UInt8 in [0, 10, 0xFF] {
            bytes = vote
            bytes[1] = tag
            #expect(throws: ReplicationCodecError.unknownKind(tag)) { try ReplicationCodec.decode(bytes) }
        }
        bytes = vote
        bytes[bytes.count - 1] = 2
        #expect(throws: ReplicationCodecError.invalidBool(2)) { try ReplicationCodec.decode(bytes) }

        var entry = header(WireTag.append)
        entry.varints(0, 0, 0, 1, 0, 0)
        entry.bytes += [3, 0]
        #expect(throws: ReplicationCodecError.unknownEntryKind(3)) { try ReplicationCodec.decode(entry.bytes) }

        // An overlong 0, an overlong 1 and an 11-byte varint (over 64 bits), as the epoch.
        for varint: [UInt8] in [[0x80, 0x00], [0x81, 0x80, 0x00], [UInt8](repeating: 0xFF, count: 10) + [0x01]] {
            var ack = Wire()
            ack.bytes.append(WireTag.snapshotAck)
            ack.string([])
            ack.string([])
            ack.bytes += varint + [0]
            #expect(throws: ReplicationCodecError.malformedVarint) { try ReplicationCodec.decode(ack.bytes) }
        }
        // 2^64 - 1 is the largest: ten bytes, the last holding bit 63 only.
        var max = Wire()
        max.bytes.append(WireTag.snapshotAck)
        max.string([])
        max.string([])
        max.bytes += [UInt8](repeating: 0xFF, count: 9) + [0x01, 0]
        #expect(throws: Never.self) { try ReplicationCodec.decode(max.bytes) }
        var over = max
        over.bytes[13] = 0x02
        #expect(throws: ReplicationCodecError.malformedVarint) { try ReplicationCodec.decode(over.bytes) }
    }
}

private typealias WireTag = ReplicationCodec.Tag
private typealias WireEntryTag = ReplicationCodec.EntryTag

private func message(_ kind: ReplicationMessage.Kind) -> ReplicationMessage {
    ReplicationMessage(session: "live-1", sender: "node-a", epoch: 3, kind: kind)
}

private func tooLarge(_ what: String, _ size: UInt64, _ limit: Int) -> ReplicationCodecError {
    .tooLarge(what: what, size: Int(clamping: size), limit: limit)
}

/// Decodes `bytes`; a typed error is fine, a success must re-encode to exactly `bytes`.
private func decodeCanonically(_ bytes: [UInt8]) -> ReplicationMessage? {
    do {
        let message = try ReplicationCodec.decode(bytes)
        #expect(ReplicationCodec.encode(message) == bytes)
        return message
    } catch {
        // `error` is a ReplicationCodecError: typed throws.
        return nil
    }
}

/// Hand-built wire bytes, starting with the version byte.
private struct Wire {
    var bytes: [UInt8] = [ReplicationCodec.version]

    mutating func varints(_ values: UInt64...) {
        for value in values { Varint.append(value, into: &bytes) }
    }

    mutating func string(_ utf8: [UInt8]) {
        varints(UInt64(utf8.count))
        bytes += utf8
    }
}

/// Version, `tag`, session "s", sender "a", epoch 1.
private func header(_ tag: UInt8) -> Wire {
    var wire = Wire()
    wire.bytes.append(tag)
    wire.string([0x73])
    wire.string([0x61])
    wire.varints(1)
    return wire
}

/// Random messages of every kind, with small and huge numbers, unicode ids, empty and long
/// payloads, contiguous and arbitrary entry seqs.
private struct MessageGenerator {
    var rng: SeededGenerator

    init(seed: UInt64) { rng = SeededGenerator(seed: seed) }

    private static let characters: [Character] = ["a", "z", "-", "7", "\u{0}", "é", "ß", "直", "🎥", "👩‍👩‍👧"]

    /// Mostly small numbers (like real seqs and epochs), sometimes up to 2^64 - 1.
    mutating func number() -> UInt64 { rng.next() >> (rng.next() % 64) }

    mutating func string() -> String {
        String((0..<Int.random(in: 0...12, using: &rng)).map { _ in Self.characters.randomElement(using: &rng)! })
    }

    mutating func strings() -> [String] { (0..<Int.random(in: 0...5, using: &rng)).map { _ in string() } }

    mutating func bytes() -> [UInt8] {
        let count = rng.next() % 16 == 0 ? Int.random(in: 0...5_000, using: &rng) : Int.random(in: 0...40, using: &rng)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    mutating func bool() -> Bool { rng.next() & 1 == 1 }

    mutating func message() -> ReplicationMessage {
        let kind: ReplicationMessage.Kind
        switch rng.next() % 7 {
        case 0:
            let prevSeq = number()
            var seq = prevSeq
            let contiguous = bool()
            let entries = (0..<Int.random(in: 0...12, using: &rng)).map { _ in
                seq = contiguous ? seq &+ 1 : number()
                return ReplicationEntry(seq: seq, epoch: number(), kind: bool() ? .data(bytes()) : .config(strings()))
            }
            kind = .append(prevSeq: prevSeq, prevEpoch: number(), entries: entries, commitSeq: number())
        case 1: kind = .appendAck(success: bool(), matchSeq: number(), lastSeq: number())
        case 2: kind = .requestVote(lastSeq: number(), lastEpoch: number(), transfer: bool())
        case 3: kind = .vote(granted: bool())
        case 4:
            kind = .installSnapshot(
                ReplicationSnapshot(seq: number(), epoch: number(), members: strings(), data: bytes())
            )
        case 5: kind = .snapshotAck(matchSeq: number())
        default: kind = .timeoutNow
        }
        return ReplicationMessage(session: string(), sender: string(), epoch: number(), kind: kind)
    }
}
