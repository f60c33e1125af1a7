import Dispatch
import Foundation
import Live
import Logging

/// The recorded media of a session: HLS segments as files plus a durable index, turned into a
/// VOD playlist for the replay.
final class Recording: Sendable {
    let directory: String
    private let index: AppendLog
    /// Segment files are written off the session actor, in order, one at a time.
    private let queue: DispatchQueue

    struct Entry: Codable, Sendable {
        var sequence: Int
        var duration: Double
    }

    init(directory: String) throws(StorageError) {
        self.directory = directory
        try createDirectory(directory)
        index = try AppendLog(path: directory + "/index.jsonl")
        queue = DispatchQueue(label: "qunbo.recording")
    }

    /// Writes the segment file, then records it in the index (the index never names a file
    /// that is not fully on disk). Returns at once: the blocking I/O runs on the recording's own
    /// queue, so the session actor (and its viewers) never waits on the disk.
    func write(_ segment: HLSSegment, logger: Logger) {
        let directory = directory
        let index = index
        queue.async {
            // A full disk stopped the index (fail-stop); once there is room again it goes on.
            if index.failure != nil { try? index.recoverBlocking() }
            do {
                try writeFileAtomically(segment.bytes, to: "\(directory)/\(segment.sequence).ts")
                let entry = Entry(sequence: segment.sequence, duration: segment.duration)
                let record = Array(try JSONEncoder().encode(entry))
                index.submit([record]) { failure in
                    if let failure {
                        logger.error("cannot index a recorded segment", metadata: ["error": "\(failure)"])
                    }
                }
            } catch {
                logger.error("cannot record a segment", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Returns once every segment queued so far is written (tests and shutdown).
    func flush() async {
        await withCheckedContinuation { continuation in queue.async { continuation.resume() } }
    }

    /// The recorded segments in order.
    static func entries(directory: String) -> [Entry] {
        let records = (try? AppendLog.readAll(path: directory + "/index.jsonl")) ?? []
        return records.compactMap { try? JSONDecoder().decode(Entry.self, from: Data($0)) }
    }
}
