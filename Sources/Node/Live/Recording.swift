import Foundation
import Live

/// The recorded media of a session: HLS segments as files plus a durable index, turned into a
/// VOD playlist for the replay.
final class Recording: Sendable {
    let directory: String
    private let index: AppendLog

    struct Entry: Codable, Sendable {
        var sequence: Int
        var duration: Double
    }

    init(directory: String) throws(StorageError) {
        self.directory = directory
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .io(path: directory, reason: "\(error)")
        }
        index = try AppendLog(path: directory + "/index.jsonl")
    }

    /// Writes the segment file, then records it in the index (the index never names a file
    /// that is not fully on disk).
    func write(_ segment: HLSSegment) async throws {
        try writeFileAtomically(segment.bytes, to: "\(directory)/\(segment.sequence).ts")
        let entry = Entry(sequence: segment.sequence, duration: segment.duration)
        try await index.append([Array(try JSONEncoder().encode(entry))])
    }

    /// The recorded segments in order.
    static func entries(directory: String) -> [Entry] {
        let records = (try? AppendLog.readAll(path: directory + "/index.jsonl")) ?? []
        return records.compactMap { try? JSONDecoder().decode(Entry.self, from: Data($0)) }
    }
}
