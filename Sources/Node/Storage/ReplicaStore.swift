import Foundation
import Shard

/// One session's replication state on disk: the log (`replication.log`) and the vote
/// (`vote.json`), under the session's directory.
///
/// The log is append-only text, one record per line, so a torn tail after a crash is one partial
/// line that `AppendLog.readAll` drops:
/// ```
/// E <seq> <epoch> <event JSON>     a data entry (a LiveEvent)
/// C <seq> <epoch> <members JSON>   a config entry
/// T <seq>                          drop every entry after <seq> (a new primary overwrote them)
/// ```
/// Truncation is a record rather than a rewrite: the file only grows, every write is one append
/// plus one fsync, and replaying the records rebuilds the log exactly.
final class ReplicaStore: Sendable {
    let directory: String
    private let log: AppendLog

    init(directory: String) throws(StorageError) {
        self.directory = directory
        try createDirectory(directory)
        log = try AppendLog(path: directory + "/replication.log")
    }

    static func exists(in directory: String) -> Bool {
        FileManager.default.fileExists(atPath: directory + "/replication.log")
    }

    /// Marks the copy in `directory` as removed from its replica set: a restart does not load
    /// it (it is nobody's replica), but its log stays, so a re-add resumes from it.
    static func markRemoved(in directory: String, epoch: UInt64) {
        FileManager.default.createFile(atPath: directory + "/removed", contents: Data("\(epoch)\n".utf8))
    }

    static func isRemoved(in directory: String) -> Bool {
        FileManager.default.fileExists(atPath: directory + "/removed")
    }

    /// The copy is a replica again (a primary shipped it entries).
    static func clearRemoved(in directory: String) {
        try? FileManager.default.removeItem(atPath: directory + "/removed")
    }

    /// Marks the copy in `directory` settled: its `ended` event and everything up to `commitSeq`
    /// (a log seq) are committed. A restart shows them at once and never campaigns for it. Written
    /// to a temporary file then renamed, so a crash leaves either no mark or a whole one.
    static func markSettled(in directory: String, commitSeq: UInt64) {
        let path = directory + "/settled"
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data("\(commitSeq)\n".utf8)) else { return }
        _ = rename(temporary, path)
    }

    /// The commit point stored by `markSettled`, if the copy settled.
    static func settledCommit(in directory: String) -> UInt64? {
        guard let data = FileManager.default.contents(atPath: directory + "/settled"),
            let text = String(data: data, encoding: .utf8)
        else { return nil }
        return UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Queues a truncation and entries; `completion` runs once they are on disk, in call order.
    func submit(
        _ entries: [ReplicationEntry],
        truncateAfter: UInt64?,
        completion: @escaping @Sendable (StorageError?) -> Void
    ) {
        var records: [[UInt8]] = []
        records.reserveCapacity(entries.count + 1)
        if let truncateAfter { records.append(Array("T \(truncateAfter)".utf8)) }
        for entry in entries { records.append(Self.record(entry)) }
        log.submit(records, completion: completion)
    }

    /// Stores the epoch and vote durably before returning (Raft: before answering anyone).
    func writeVote(epoch: UInt64, votedFor: String?) throws(StorageError) {
        let vote = Vote(epoch: epoch, votedFor: votedFor)
        let bytes = (try? JSONEncoder().encode(vote)).map { Array($0) } ?? []
        try writeFileAtomically(bytes, to: directory + "/vote.json")
    }

    /// The durable log and vote, as `SessionReplica.restore` wants them.
    func load() throws(StorageError) -> (state: SessionReplica.PersistentState, entries: [ReplicationEntry]) {
        try Self.load(directory: directory)
    }

    /// The durable log and vote in `directory`, read without opening the log for writing (a
    /// settled copy's replay is read this way, on demand).
    static func load(directory: String) throws(StorageError) -> (
        state: SessionReplica.PersistentState, entries: [ReplicationEntry]
    ) {
        var entries: [ReplicationEntry] = []
        for (line, record) in try AppendLog.readAll(path: directory + "/replication.log").enumerated() {
            guard let parsed = Self.parse(record) else {
                throw .corrupt(path: directory + "/replication.log", line: line + 1)
            }
            switch parsed {
            case .entry(let entry):
                // An entry always continues the log (the primary's consistency check saw to it).
                if let last = entries.last, entry.seq != last.seq + 1 {
                    entries.removeAll { $0.seq >= entry.seq }
                }
                entries.append(entry)
            case .truncate(let seq):
                entries.removeAll { $0.seq > seq }
            }
        }
        var vote = Vote(epoch: 0, votedFor: nil)
        if let data = FileManager.default.contents(atPath: directory + "/vote.json") {
            guard let decoded = try? JSONDecoder().decode(Vote.self, from: data) else {
                throw .corrupt(path: directory + "/vote.json", line: 1)
            }
            vote = decoded
        }
        // The vote file is written before anything of its epoch is sent, but an entry's epoch can
        // only come from a primary we followed: never let the log claim a later epoch than the vote.
        let epoch = max(vote.epoch, entries.last?.epoch ?? 0)
        return (.init(epoch: epoch, votedFor: epoch == vote.epoch ? vote.votedFor : nil), entries)
    }

    private struct Vote: Codable {
        var epoch: UInt64
        var votedFor: String?
    }

    private enum Record {
        case entry(ReplicationEntry)
        case truncate(UInt64)
    }

    static func record(_ entry: ReplicationEntry) -> [UInt8] {
        switch entry.kind {
        case .data(let payload):
            // Records are lines: a payload with a newline byte (binary events can hold one) is
            // written in base64; the others, JSON events included, as they are.
            guard payload.contains(UInt8(ascii: "\n")) else {
                return Array("E \(entry.seq) \(entry.epoch) ".utf8) + payload
            }
            return Array("B \(entry.seq) \(entry.epoch) \(Data(payload).base64EncodedString())".utf8)
        case .config(let members):
            let json = (try? JSONEncoder().encode(members)).map { Array($0) } ?? Array("[]".utf8)
            return Array("C \(entry.seq) \(entry.epoch) ".utf8) + json
        }
    }

    private static func parse(_ record: [UInt8]) -> Record? {
        let parts = record.split(separator: UInt8(ascii: " "), maxSplits: 3, omittingEmptySubsequences: false)
        func number(_ i: Int) -> UInt64? {
            guard i < parts.count else { return nil }
            return UInt64(String(decoding: parts[i], as: UTF8.self))
        }
        guard let tag = parts.first, tag.count == 1 else { return nil }
        switch tag.first {
        case UInt8(ascii: "T"):
            return number(1).map { .truncate($0) }
        case UInt8(ascii: "E"):
            guard let seq = number(1), let epoch = number(2), parts.count == 4 else { return nil }
            return .entry(ReplicationEntry(seq: seq, epoch: epoch, kind: .data(Array(parts[3]))))
        case UInt8(ascii: "B"):
            guard let seq = number(1), let epoch = number(2), parts.count == 4,
                let payload = Data(base64Encoded: Data(parts[3]))
            else { return nil }
            return .entry(ReplicationEntry(seq: seq, epoch: epoch, kind: .data(Array(payload))))
        case UInt8(ascii: "C"):
            guard let seq = number(1), let epoch = number(2), parts.count == 4,
                let members = try? JSONDecoder().decode([String].self, from: Data(parts[3]))
            else { return nil }
            return .entry(ReplicationEntry(seq: seq, epoch: epoch, kind: .config(members)))
        default:
            return nil
        }
    }
}
