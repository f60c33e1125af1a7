import Foundation
import Shard

/// One session's replication state on disk: the log (`replication.log`) and the vote
/// (`vote.json`), under the session's directory.
///
/// The log is an `AppendLog`: checksummed frames (`LogRecordFormat`), each holding one record:
/// ```
/// 0x01 | seq: UInt64 LE | epoch: UInt64 LE | payload     a data entry (a LiveEvent, binary)
/// 0x02 | seq: UInt64 LE | epoch: UInt64 LE | members JSON a config entry
/// 0x03 | seq: UInt64 LE                                  drop every entry after seq (a new primary overwrote them)
/// ```
/// Logs written before checksums hold text lines, still read (a rolling upgrade loads them and
/// appends frames after them):
/// ```
/// E <seq> <epoch> <event JSON or binary without newline>
/// B <seq> <epoch> <base64 payload>
/// C <seq> <epoch> <members JSON>
/// T <seq>
/// ```
/// Truncation is a record rather than a rewrite: the file only grows, every write is one append
/// plus one fsync, and replaying the records rebuilds the log exactly.
///
/// Reading checks every frame's length and checksum and that entries continue the log (no gap
/// in `seq`). A damaged log (a bad frame, a gap, an unreadable record) is cut to its valid
/// prefix when the store opens: the whole file is first moved aside as
/// `replication.log.corrupt-<unix time>`, so nothing is destroyed. A torn last record (a crash
/// mid-write, never acknowledged) is simply cut off.
final class ReplicaStore: Sendable {
    let directory: String
    private let log: AppendLog
    /// What was on disk when the store opened (nil for a new copy), after any repair.
    let loaded: Loaded?

    /// A stored copy as read back.
    struct Loaded: Sendable {
        var state: SessionReplica.PersistentState
        var entries: [ReplicationEntry]
        /// Why the log (or vote) was cut, if it was.
        var damage: String?
        /// Where the damaged file was moved.
        var quarantinedAs: String?
        /// The damage may have taken entries this copy acknowledged (anything but a torn last
        /// record): the copy must abstain from elections until repaired
        /// (`SessionReplica.lostEntriesOnDisk`).
        var lostEntries = false
    }

    static let logName = "replication.log"

    /// Opens the copy in `directory` (creating it if new). An existing log is read and checked
    /// first, and repaired if damaged (see the type's comment); `loaded` holds what it held.
    init(directory: String, ops: any LogFileOps = PosixLogFileOps()) throws(StorageError) {
        self.directory = directory
        try createDirectory(directory)
        let path = directory + "/" + Self.logName
        if FileManager.default.fileExists(atPath: path) {
            var (loaded, validBytes, bytes) = try Self.read(directory: directory)
            if loaded.damage != nil, let validBytes {
                let aside = path + ".corrupt-\(Int(Date().timeIntervalSince1970))"
                guard rename(path, aside) == 0 else {
                    throw .errno(errno, path: path, operation: "rename to \(aside)")
                }
                // The mark first: a crash between the two leaves the copy abstaining, never a
                // short log that votes.
                if loaded.lostEntries { try Self.markLostEntries(in: directory) }
                try writeFileAtomically(Array(bytes[..<validBytes]), to: path)
                loaded.quarantinedAs = aside
            }
            self.loaded = loaded
        } else {
            loaded = nil
        }
        log = try AppendLog(path: path, ops: ops)
    }

    /// The error that stopped the log (fail-stop), while it is stopped.
    var failure: StorageError? { log.failure }

    /// After a failed write: reopens the log and cuts it back to its last durable record.
    func recover() async throws(StorageError) { try await log.recover() }

    static let lostEntriesName = "lost-entries"

    /// Records that a repair cut entries this copy may have acknowledged, so the abstention
    /// (`SessionReplica.lostEntriesOnDisk`) outlives a restart: after the cut the log reads as
    /// whole, and without the mark a second restart before the copy caught up would let it vote.
    static func markLostEntries(in directory: String) throws(StorageError) {
        try writeFileAtomically(Array("lost\n".utf8), to: directory + "/" + lostEntriesName)
    }

    /// The copy caught up past the loss (`SessionReplica.abstainingAtOrBelow` is nil again).
    static func clearLostEntries(in directory: String) {
        try? FileManager.default.removeItem(atPath: directory + "/" + lostEntriesName)
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
        if let truncateAfter { records.append(Self.truncateRecord(after: truncateAfter)) }
        for entry in entries { records.append(Self.record(entry)) }
        log.submit(records, completion: completion)
    }

    /// What the core wants written after its disk recovered (`SessionReplica.diskRecovered`).
    func rewrite(_ rewrite: SessionReplica.Rewrite, completion: @escaping @Sendable (StorageError?) -> Void) {
        submit(rewrite.entries, truncateAfter: rewrite.truncateAfter, completion: completion)
    }

    /// Stores the epoch and vote durably before returning (Raft: before answering anyone).
    func writeVote(epoch: UInt64, votedFor: String?) throws(StorageError) {
        let vote = Vote(epoch: epoch, votedFor: votedFor)
        let bytes = (try? JSONEncoder().encode(vote)).map { Array($0) } ?? []
        try writeFileAtomically(bytes, to: directory + "/vote.json")
    }

    /// The durable log and vote, as `SessionReplica.restore` wants them, read now, with what the
    /// opening found and repaired (`damage`, `quarantinedAs`, `lostEntries`).
    func load() throws(StorageError) -> Loaded {
        var (fresh, _, _) = try Self.read(directory: directory)
        if let loaded, loaded.damage != nil {
            fresh.damage = loaded.damage
            fresh.quarantinedAs = loaded.quarantinedAs
            fresh.lostEntries = fresh.lostEntries || loaded.lostEntries
        }
        return fresh
    }

    /// The durable log and vote in `directory`, read without opening the log for writing or
    /// repairing it (a settled copy's replay is read this way, on demand): the valid prefix.
    static func load(
        directory: String
    ) throws(StorageError) -> (
        state: SessionReplica.PersistentState, entries: [ReplicationEntry]
    ) {
        let (loaded, _, _) = try read(directory: directory)
        return (loaded.state, loaded.entries)
    }

    /// Reads and checks the log and vote. Returns what is valid, the length of the log's valid
    /// prefix when it must be cut (nil when whole), and the file's bytes.
    static func read(directory: String) throws(StorageError) -> (Loaded, validBytes: Int?, bytes: [UInt8]) {
        let path = directory + "/" + logName
        var bytes: [UInt8] = []
        if FileManager.default.fileExists(atPath: path) {
            do {
                bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            } catch {
                throw .io(path: path, reason: "\(error)")
            }
        }
        let scan = LogRecordFormat.scan(bytes)
        var entries: [ReplicationEntry] = []
        var damage = scan.damage.map { "\($0)" }
        var lost = scan.damage.map { $0.kind == .corrupt } ?? false
        var validBytes = scan.damage?.offset
        records: for (index, record) in scan.records.enumerated() {
            let offset = index == 0 ? 0 : scan.ends[index - 1]
            func stop(_ reason: String) {
                damage = "record \(index) at byte \(offset): \(reason)"
                lost = true
                validBytes = offset
            }
            guard let parsed = parse(record) else {
                stop("unreadable record")
                break records
            }
            switch parsed {
            case .entry(let entry):
                let next = (entries.last?.seq ?? 0) + 1
                if entry.seq > next {
                    // A hole: an entry after it can only be there if a write was lost.
                    stop("entry \(entry.seq) where \(next) was expected")
                    break records
                }
                // An earlier seq is an overwrite, in logs written before truncation records.
                if entry.seq < next { entries.removeAll { $0.seq >= entry.seq } }
                entries.append(entry)
            case .truncate(let seq):
                entries.removeAll { $0.seq > seq }
            }
        }
        if FileManager.default.fileExists(atPath: directory + "/" + lostEntriesName) {
            damage = (damage.map { $0 + "; " } ?? "") + "an earlier repair lost entries, not yet caught up"
            lost = true
        }
        var vote = Vote(epoch: 0, votedFor: nil)
        if let data = FileManager.default.contents(atPath: directory + "/vote.json") {
            if let decoded = try? JSONDecoder().decode(Vote.self, from: data) {
                vote = decoded
            } else {
                // Written atomically, so only a damaged disk gets here. The vote is unknown: the
                // copy abstains (it cannot know whom it voted for) and moves past every epoch its
                // log knows.
                damage = (damage.map { $0 + "; " } ?? "") + "vote.json unreadable"
                lost = true
            }
        }
        // The vote file is written before anything of its epoch is sent, but an entry's epoch can
        // only come from a primary we followed: never let the log claim a later epoch than the vote.
        let epoch = max(vote.epoch, entries.last?.epoch ?? 0)
        let state = SessionReplica.PersistentState(epoch: epoch, votedFor: epoch == vote.epoch ? vote.votedFor : nil)
        return (Loaded(state: state, entries: entries, damage: damage, lostEntries: lost), validBytes, bytes)
    }

    private struct Vote: Codable {
        var epoch: UInt64
        var votedFor: String?
    }

    private enum Record {
        case entry(ReplicationEntry)
        case truncate(UInt64)
    }

    static let dataTag: UInt8 = 0x01
    static let configTag: UInt8 = 0x02
    static let truncateTag: UInt8 = 0x03

    /// The binary record of `entry` (framed and checksummed by `AppendLog`).
    static func record(_ entry: ReplicationEntry) -> [UInt8] {
        var out: [UInt8] = []
        switch entry.kind {
        case .data(let payload):
            out.reserveCapacity(17 + payload.count)
            out.append(dataTag)
            appendUInt64(entry.seq, to: &out)
            appendUInt64(entry.epoch, to: &out)
            out.append(contentsOf: payload)
        case .config(let members):
            out.append(configTag)
            appendUInt64(entry.seq, to: &out)
            appendUInt64(entry.epoch, to: &out)
            out.append(contentsOf: (try? JSONEncoder().encode(members)).map { Array($0) } ?? Array("[]".utf8))
        }
        return out
    }

    static func truncateRecord(after seq: UInt64) -> [UInt8] {
        var out: [UInt8] = [truncateTag]
        appendUInt64(seq, to: &out)
        return out
    }

    /// The record of `entry` as logs before checksums wrote it (a text line): tests write
    /// such logs to check that an upgraded node still reads them.
    static func legacyRecord(_ entry: ReplicationEntry) -> [UInt8] {
        switch entry.kind {
        case .data(let payload):
            guard payload.contains(UInt8(ascii: "\n")) else {
                return Array("E \(entry.seq) \(entry.epoch) ".utf8) + payload
            }
            return Array("B \(entry.seq) \(entry.epoch) \(Data(payload).base64EncodedString())".utf8)
        case .config(let members):
            let json = (try? JSONEncoder().encode(members)).map { Array($0) } ?? Array("[]".utf8)
            return Array("C \(entry.seq) \(entry.epoch) ".utf8) + json
        }
    }

    private static func appendUInt64(_ value: UInt64, to out: inout [UInt8]) {
        for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8((value >> UInt64(shift)) & 0xFF)) }
    }

    private static func readUInt64(_ record: [UInt8], at offset: Int) -> UInt64? {
        guard record.count >= offset + 8 else { return nil }
        var value: UInt64 = 0
        for i in 0..<8 { value |= UInt64(record[offset + i]) << UInt64(8 * i) }
        return value
    }

    /// A binary record (first byte 1-3), else a text line of the format before checksums.
    private static func parse(_ record: [UInt8]) -> Record? {
        switch record.first {
        case dataTag?, configTag?:
            guard let seq = readUInt64(record, at: 1), let epoch = readUInt64(record, at: 9), seq > 0 else {
                return nil
            }
            let body = Array(record[17...])
            if record[0] == dataTag { return .entry(ReplicationEntry(seq: seq, epoch: epoch, kind: .data(body))) }
            guard let members = try? JSONDecoder().decode([String].self, from: Data(body)) else { return nil }
            return .entry(ReplicationEntry(seq: seq, epoch: epoch, kind: .config(members)))
        case truncateTag?:
            guard record.count == 9, let seq = readUInt64(record, at: 1) else { return nil }
            return .truncate(seq)
        default:
            return parseLegacy(record)
        }
    }

    private static func parseLegacy(_ record: [UInt8]) -> Record? {
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
