import Shard
import SimulationSupport

extension SeedReplay {
    /// Seeds for the replication simulation: `REPL_SEED=n` replays just that seed, `REPL_TRACE=1`
    /// narrates it.
    static let replication = SeedReplay(variable: "REPL_SEED", traceVariable: "REPL_TRACE")
}

/// The simulated shell's "session state": a snapshot is simply every entry up to its seq, encoded
/// as words, so the checker can rebuild a node's whole log from snapshot + tail.
enum SimSnapshotCodec {
    static func encode(_ entries: ArraySlice<ReplicationEntry>) -> [UInt8] {
        var words: [UInt64] = []
        for entry in entries {
            words.append(entry.seq)
            words.append(entry.epoch)
            switch entry.kind {
            case .data(let bytes):
                words.append(0)
                words.append(writeID(bytes))
            case .config(let members):
                words.append(1)
                words.append(UInt64(members.count))
                for member in members { words.append(UInt64(member.dropFirst())!) }
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(words.count * 8)
        for word in words { bytes.append(contentsOf: payload(word)) }
        return bytes
    }

    static func decode(_ bytes: [UInt8]) -> [ReplicationEntry] {
        var words: [UInt64] = []
        var index = 0
        while index + 8 <= bytes.count {
            words.append(writeID(Array(bytes[index..<index + 8])))
            index += 8
        }
        var entries: [ReplicationEntry] = []
        var i = 0
        while i < words.count {
            let seq = words[i]
            let epoch = words[i + 1]
            if words[i + 2] == 0 {
                entries.append(ReplicationEntry(seq: seq, epoch: epoch, kind: .data(payload(words[i + 3]))))
                i += 4
            } else {
                let count = Int(words[i + 3])
                let members = (0..<count).map { "n\(words[i + 4 + $0])" }
                entries.append(ReplicationEntry(seq: seq, epoch: epoch, kind: .config(members)))
                i += 4 + count
            }
        }
        return entries
    }

    static func payload(_ id: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: id >> (8 * $0)) }
    }

    /// A plain loop: it runs for every entry the checker hashes, in an unoptimized build.
    static func writeID(_ bytes: [UInt8]) -> UInt64 {
        var id: UInt64 = 0
        var i = 0
        while i < min(bytes.count, 8) {
            id |= UInt64(bytes[i]) << (8 * i)
            i += 1
        }
        return id
    }
}

extension ReplicationEntry {
    /// A word identifying the entry's content, for prefix hashes and traces.
    var contentWord: UInt64 {
        switch kind {
        case .data(let bytes): return SimSnapshotCodec.writeID(bytes)
        case .config(let members):
            var hash: UInt64 = 0x1234_5678
            for member in members {
                for byte in member.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
            }
            return hash
        }
    }
}

extension ReplicationMessage.Kind {
    var traceTag: UInt64 {
        switch self {
        case .append(let prevSeq, _, let entries, _): 1 &+ prevSeq << 8 &+ UInt64(entries.count) << 32
        case .appendAck(let success, let matchSeq, _): 2 &+ (success ? 4 : 0) &+ matchSeq << 8
        case .requestVote(let lastSeq, _, _): 3 &+ lastSeq << 8
        case .vote(let granted): granted ? 5 : 6
        case .installSnapshot(let snapshot): 7 &+ snapshot.seq << 8
        case .snapshotAck(let matchSeq): 8 &+ matchSeq << 8
        case .timeoutNow: 9
        case .preVoteRequest(let lastSeq, _): 10 &+ lastSeq << 8
        case .preVote(let granted): granted ? 11 : 12
        }
    }
}
