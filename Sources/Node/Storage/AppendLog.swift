import Dispatch
import Foundation
import Synchronization

/// An append-only file of checksummed records (`LogRecordFormat`) with group commit: concurrent
/// appends are written together and made durable by one `fsync`, and each caller resumes only
/// once its records are on disk. That is the "durable" of API.md's guarantees: a write is
/// answered after `append` returns.
///
/// Fail-stop: a failed `write` or `fsync` poisons the log. The file is cut back to the end of the
/// last batch that was made durable (what a failed batch left half-written is gone), that batch
/// and every pending one fail, and so does every later append, until `recover` succeeds. So
/// nothing after a failure is ever reported durable, and a success never covers a lost record:
/// the durable part of the file is always the prefix of what was submitted, in order, with no
/// hole. (Before, a later successful batch made a failed one look durable: issue 13.)
///
/// A crash can leave a torn last record; `scan` reports it and `readAll` drops it (it was never
/// acknowledged, since the fsync that would have covered it did not complete).
public final class AppendLog: Sendable {
    public let path: String
    private let ops: any LogFileOps
    private let queue: DispatchQueue
    private struct Pending {
        var data: [UInt8]
        var completion: @Sendable (StorageError?) -> Void
    }
    private struct State {
        var pending: [Pending] = []
        var flushing = false
        var closed = false
        /// Set by a failed write or fsync; cleared by `recover`.
        var poisoned: StorageError?
    }
    /// The file, touched only on `queue` (the lock is for the type checker, never contended).
    private struct File {
        var fd: Int32
        /// End of the last batch made durable: where the file is cut back to after a failure.
        var durableOffset: Int64
        /// Whether the cut after the last failure is done (else `recover` does it).
        var cut = true
    }
    private let state = Mutex(State())
    private let file: Mutex<File>

    /// Opens (creating if needed, and then fsyncing the directory so the new file survives a
    /// crash) the log at `path` for appending.
    public init(path: String, ops: any LogFileOps = PosixLogFileOps()) throws(StorageError) {
        self.path = path
        self.ops = ops
        let existed = FileManager.default.fileExists(atPath: path)
        let (fd, error) = ops.open(path)
        guard fd >= 0 else { throw .errno(error, path: path, operation: "open") }
        let (size, sizeError) = ops.size(fd)
        guard size >= 0 else {
            ops.close(fd)
            throw .errno(sizeError, path: path, operation: "fstat")
        }
        if !existed { fsyncDirectory((path as NSString).deletingLastPathComponent) }
        file = Mutex(File(fd: fd, durableOffset: size))
        queue = DispatchQueue(label: "qunbo.log.\(path.split(separator: "/").suffix(2).joined(separator: "."))")
    }

    deinit { ops.close(file.withLock { $0.fd }) }

    /// The error that poisoned the log, while it is poisoned.
    public var failure: StorageError? { state.withLock { $0.poisoned } }

    /// Appends `records` and returns once they are on disk.
    public func append(_ records: [[UInt8]]) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            submit(records) { failure in
                if let failure { continuation.resume(throwing: failure) } else { continuation.resume() }
            }
        }
    }

    /// Queues `records` for writing and calls `completion` once they are on disk (nil) or failed.
    /// Not async, so callers that must keep their writes in order (a replica's log) get the
    /// order of their calls: submissions are written strictly first come, first written. Fails
    /// at once while the log is poisoned.
    public func submit(_ records: [[UInt8]], completion: @escaping @Sendable (StorageError?) -> Void) {
        var data: [UInt8] = []
        data.reserveCapacity(records.reduce(0) { $0 + $1.count + LogRecordFormat.headerSize })
        for r in records { LogRecordFormat.frame(r, into: &data) }
        let (refusal, startFlush) = state.withLock { s -> (StorageError?, Bool) in
            if s.closed { return (.io(path: path, reason: "log closed"), false) }
            if let poisoned = s.poisoned { return (poisoned, false) }
            s.pending.append(Pending(data: data, completion: completion))
            guard !s.flushing else { return (nil, false) }
            s.flushing = true
            return (nil, true)
        }
        if let refusal { completion(refusal) }
        if startFlush { queue.async { self.flushLoop() } }
    }

    /// Writes everything pending with one fsync per round, until nothing is pending.
    private func flushLoop() {
        while true {
            let batch = state.withLock { s -> [Pending] in
                let b = s.pending
                s.pending.removeAll()
                if b.isEmpty { s.flushing = false }
                return b
            }
            if batch.isEmpty { return }
            var all: [UInt8] = []
            for p in batch { all.append(contentsOf: p.data) }
            let failure = writeAndSync(all)
            guard let failure else {
                for p in batch { p.completion(nil) }
                continue
            }
            // Fail-stop: everything queued behind the failed batch fails with it, and so does
            // every append until `recover`.
            let rest = state.withLock { s -> [Pending] in
                s.poisoned = failure
                let rest = s.pending
                s.pending.removeAll()
                s.flushing = false
                return rest
            }
            for p in batch + rest { p.completion(failure) }
            return
        }
    }

    /// One batch: write it all, fsync; on failure cut the file back to the last durable end.
    private func writeAndSync(_ all: [UInt8]) -> StorageError? {
        file.withLock { f -> StorageError? in
            var failure: StorageError?
            var offset = 0
            while offset < all.count {
                let (n, error) = all[offset...].withUnsafeBytes { ops.write(f.fd, $0) }
                if error == EINTR { continue }
                if error != 0 {
                    failure = .errno(error, path: path, operation: "write")
                    break
                }
                if n == 0 {
                    failure = .io(path: path, reason: "write: wrote nothing")
                    break
                }
                offset += n
            }
            if failure == nil {
                let error = ops.fsync(f.fd)
                if error != 0 { failure = .errno(error, path: path, operation: "fsync") }
            }
            guard failure != nil else {
                f.durableOffset += Int64(all.count)
                return nil
            }
            // What the failed batch left in the file (a half record, or whole ones whose fsync
            // failed) goes, so a later append cannot follow it. If the cut fails too, `recover`
            // retries it before anything else is written.
            f.cut = ops.truncate(f.fd, to: f.durableOffset) == 0
            return failure
        }
    }

    /// After a failure: reopens the file, cuts it back to the end of the last durable batch,
    /// fsyncs, and accepts appends again. The caller then writes again what it still needs (a
    /// replica re-persists what its core holds past the durable point). Throws, leaving the log
    /// poisoned, while the disk still fails.
    public func recover() async throws(StorageError) {
        let result: StorageError? = await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: self.reopen()) }
        }
        if let result { throw result }
    }

    /// `recover`, blocking: for callers on their own queue (a recording's writer), never on
    /// this log's completion callbacks.
    public func recoverBlocking() throws(StorageError) {
        if let failure = queue.sync(execute: { reopen() }) { throw failure }
    }

    private func reopen() -> StorageError? {
        guard state.withLock({ $0.poisoned != nil }) else { return nil }
        let failure = file.withLock { f -> StorageError? in
            let (fd, error) = ops.open(path)
            guard fd >= 0 else { return .errno(error, path: path, operation: "open") }
            let (size, sizeError) = ops.size(fd)
            if size < 0 {
                ops.close(fd)
                return .errno(sizeError, path: path, operation: "fstat")
            }
            if size < f.durableOffset {
                // Durable records are gone from under us: nothing here can be trusted to append to.
                ops.close(fd)
                return .io(path: path, reason: "file shrank to \(size) bytes below its durable \(f.durableOffset)")
            }
            if size > f.durableOffset {
                let error = ops.truncate(fd, to: f.durableOffset)
                if error != 0 {
                    ops.close(fd)
                    return .errno(error, path: path, operation: "ftruncate")
                }
            }
            let syncError = ops.fsync(fd)
            if syncError != 0 {
                ops.close(fd)
                return .errno(syncError, path: path, operation: "fsync")
            }
            ops.close(f.fd)
            f.fd = fd
            f.cut = true
            return nil
        }
        if failure == nil { state.withLock { $0.poisoned = nil } }
        return failure
    }

    /// The records of the file at `path` and where reading stopped (see `LogRecordFormat.scan`).
    public static func scan(path: String) throws(StorageError) -> LogRecordFormat.Scan {
        guard FileManager.default.fileExists(atPath: path) else { return LogRecordFormat.Scan() }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .io(path: path, reason: "\(error)")
        }
        return LogRecordFormat.scan(Array(data))
    }

    /// Every whole, valid record in the file at `path`, in order, up to the first torn or
    /// corrupt one (which is dropped with everything after it).
    public static func readAll(path: String) throws(StorageError) -> [[UInt8]] {
        try scan(path: path).records
    }
}

/// Writes a whole file atomically: temp file, fsync, rename, fsync of the directory.
public func writeFileAtomically(_ bytes: [UInt8], to path: String) throws(StorageError) {
    let tmp = path + ".tmp"
    let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw .errno(errno, path: tmp, operation: "open") }
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            let code = errno
            if code == EINTR { continue }
            close(fd)
            unlink(tmp)
            throw .errno(code, path: tmp, operation: "write")
        }
        offset += n
    }
    let syncError = fsync(fd) == 0 ? 0 : errno
    close(fd)
    guard syncError == 0 else {
        unlink(tmp)
        throw .errno(syncError, path: tmp, operation: "fsync")
    }
    guard rename(tmp, path) == 0 else { throw .io(path: path, reason: String(cString: strerror(errno))) }
    fsyncDirectory((path as NSString).deletingLastPathComponent)
}

/// Creates `path` and its parents if missing.
func createDirectory(_ path: String) throws(StorageError) {
    do {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    } catch {
        throw .io(path: path, reason: "\(error)")
    }
}
