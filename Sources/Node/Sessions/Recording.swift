import Dispatch
import Foundation
import Live
import Logging
import Synchronization

/// The recorded media of a session: HLS segments as files plus a durable index, turned into a
/// VOD playlist for the replay.
final class Recording: Sendable {
    let directory: String
    private let index: AppendLog
    /// Segment files are written off the session actor, in order, one at a time.
    private let queue: DispatchQueue
    private let maxBytes: Int64
    private let maxQueuedBytes: Int64
    private let onStopped: @Sendable (StopReason) -> Void

    /// Why a recording stopped before the session ended.
    enum StopReason: String, Sendable {
        /// `--max-recording-bytes` reached.
        case quota
        /// The disk fell `recordingQueueBytes` behind.
        case queue
    }

    private struct Budget {
        /// Bytes accepted for recording so far.
        var recorded: Int64 = 0
        /// Bytes handed to the queue and not yet written.
        var queued: Int64 = 0
        var stopped: StopReason?
    }
    private let budget = Mutex(Budget())

    struct Entry: Codable, Sendable {
        var sequence: Int
        var duration: Double
    }

    init(
        directory: String,
        maxBytes: Int64 = .max,
        maxQueuedBytes: Int64 = .max,
        onStopped: @escaping @Sendable (StopReason) -> Void = { _ in }
    ) throws(StorageError) {
        self.directory = directory
        self.maxBytes = maxBytes
        self.maxQueuedBytes = maxQueuedBytes
        self.onStopped = onStopped
        try createDirectory(directory)
        index = try AppendLog(path: directory + "/index.jsonl")
        queue = DispatchQueue(label: "qunbo.recording")
    }

    /// Writes the segment file, then records it in the index (the index never names a file
    /// that is not fully on disk). Returns at once: the blocking I/O runs on the recording's own
    /// queue, so the session actor (and its viewers) never waits on the disk.
    ///
    /// Bounded: a segment that would take the recording past `maxBytes`, or the bytes waiting
    /// for the disk past `maxQueuedBytes`, stops the recording for good (logged once, counted);
    /// the replay then ends at the last segment written, and the live is not affected.
    func write(_ segment: HLSSegment, logger: Logger) {
        let size = Int64(segment.bytes.count)
        let (accepted, stoppedNow) = budget.withLock { b -> (Bool, StopReason?) in
            if b.stopped != nil { return (false, nil) }
            if b.recorded + size > maxBytes { b.stopped = .quota }
            else if b.queued + size > maxQueuedBytes { b.stopped = .queue }
            if let reason = b.stopped { return (false, reason) }
            b.recorded += size
            b.queued += size
            return (true, nil)
        }
        if let reason = stoppedNow {
            onStopped(reason)
            logger.warning(
                "recording stopped; the live goes on, its replay ends here",
                metadata: [
                    "recording.reason": "\(reason == .quota ? "max-recording-bytes reached" : "the disk fell behind")",
                    "recording.bytes": "\(budget.withLock { $0.recorded })", "recording.limit": "\(maxBytes)",
                ]
            )
        }
        guard accepted else { return }
        let directory = directory
        let index = index
        queue.async { [self] in
            defer { budget.withLock { $0.queued -= size } }
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

    /// Why recording stopped early, if it did.
    var stopReason: StopReason? { budget.withLock { $0.stopped } }

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
