import Dispatch
import Foundation
import Synchronization

/// Why a log could not be written or read.
public enum StorageError: Error, CustomStringConvertible, Sendable {
    case io(path: String, reason: String)
    case corrupt(path: String, line: Int)

    public var description: String {
        switch self {
        case .io(let path, let reason): return "storage error on \(path): \(reason)"
        case .corrupt(let path, let line): return "corrupt record at line \(line) of \(path)"
        }
    }
}

/// An append-only file of newline-terminated records with group commit: concurrent appends
/// are written together and made durable by one `fsync`, and each caller resumes only once its
/// records are on disk. That is the "durable" of API.md's guarantees: a write is answered after
/// `append` returns.
///
/// A crash can leave a torn last line; `readAll` drops it (it was never acknowledged, since the
/// fsync that would have covered it did not complete).
public final class AppendLog: Sendable {
    public let path: String
    private let fd: Int32
    private let queue: DispatchQueue
    private struct Pending {
        var data: [UInt8]
        var completion: @Sendable (StorageError?) -> Void
    }
    private struct State {
        var pending: [Pending] = []
        var flushing = false
        var closed = false
    }
    private let state = Mutex(State())

    /// Opens (creating if needed) the log at `path` for appending.
    public init(path: String) throws(StorageError) {
        self.path = path
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(path: path, reason: String(cString: strerror(errno))) }
        self.fd = fd
        queue = DispatchQueue(label: "qunbo.log.\(path.split(separator: "/").suffix(2).joined(separator: "."))")
    }

    deinit { close(fd) }

    /// Appends `records` (each gets a trailing newline) and returns once they are on disk.
    public func append(_ records: [[UInt8]]) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            submit(records) { failure in
                if let failure { continuation.resume(throwing: failure) } else { continuation.resume() }
            }
        }
    }

    /// Queues `records` for writing and calls `completion` once they are on disk (nil) or failed.
    /// Not async, so callers that must keep their writes in order (a replica's log) get the
    /// order of their calls: submissions are written strictly first come, first written.
    public func submit(_ records: [[UInt8]], completion: @escaping @Sendable (StorageError?) -> Void) {
        var data: [UInt8] = []
        data.reserveCapacity(records.reduce(0) { $0 + $1.count + 1 })
        for r in records {
            data.append(contentsOf: r)
            data.append(UInt8(ascii: "\n"))
        }
        let (closed, startFlush) = state.withLock { s -> (Bool, Bool) in
            if s.closed { return (true, false) }
            s.pending.append(Pending(data: data, completion: completion))
            guard !s.flushing else { return (false, false) }
            s.flushing = true
            return (false, true)
        }
        if closed { completion(.io(path: path, reason: "log closed")) }
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
            var failure: StorageError?
            var all: [UInt8] = []
            for p in batch { all.append(contentsOf: p.data) }
            var offset = 0
            while offset < all.count {
                let n = all[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = .io(path: path, reason: String(cString: strerror(errno)))
                    break
                }
                offset += n
            }
            if failure == nil && fsync(fd) != 0 {
                failure = .io(path: path, reason: "fsync: " + String(cString: strerror(errno)))
            }
            for p in batch {
                p.completion(failure)
            }
        }
    }

    /// Every complete record in the file at `path`, in order; a torn final line is dropped.
    public static func readAll(path: String) throws(StorageError) -> [[UInt8]] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .io(path: path, reason: "\(error)")
        }
        var records: [[UInt8]] = []
        var start = data.startIndex
        for i in data.indices where data[i] == UInt8(ascii: "\n") {
            records.append(Array(data[start..<i]))
            start = i + 1
        }
        return records
    }
}

/// Writes a whole file atomically: temp file, fsync, rename, fsync of the directory.
public func writeFileAtomically(_ bytes: [UInt8], to path: String) throws(StorageError) {
    let tmp = path + ".tmp"
    let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw .io(path: tmp, reason: String(cString: strerror(errno))) }
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            close(fd)
            throw .io(path: tmp, reason: String(cString: strerror(errno)))
        }
        offset += n
    }
    let synced = fsync(fd) == 0
    close(fd)
    guard synced else { throw .io(path: tmp, reason: "fsync failed") }
    guard rename(tmp, path) == 0 else { throw .io(path: path, reason: String(cString: strerror(errno))) }
    let dir = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if dir >= 0 {
        fsync(dir)
        close(dir)
    }
}

/// Creates `path` and its parents if missing.
func createDirectory(_ path: String) throws(StorageError) {
    do {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    } catch {
        throw .io(path: path, reason: "\(error)")
    }
}
