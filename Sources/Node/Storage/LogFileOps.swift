import Foundation

/// The system calls an `AppendLog` makes, behind a protocol so tests can make them fail: a short
/// write, a full disk, an fsync error (`Tests/NodeTests/Storage/FaultyLogFileOps.swift`). Each
/// returns an errno value (0 for success) instead of setting the global one.
public protocol LogFileOps: Sendable {
    /// Opens `path` for appending, creating it if missing.
    func open(_ path: String) -> (fd: Int32, error: Int32)
    /// Writes some of `bytes` at the end of the file; how many were written.
    func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> (written: Int, error: Int32)
    func fsync(_ fd: Int32) -> Int32
    func truncate(_ fd: Int32, to length: Int64) -> Int32
    func size(_ fd: Int32) -> (size: Int64, error: Int32)
    func close(_ fd: Int32)
}

/// The real file system.
public struct PosixLogFileOps: LogFileOps {
    public init() {}

    public func open(_ path: String) -> (fd: Int32, error: Int32) {
        let fd = Foundation.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        return (fd, fd < 0 ? errno : 0)
    }

    public func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> (written: Int, error: Int32) {
        let n = Foundation.write(fd, bytes.baseAddress, bytes.count)
        return (max(n, 0), n < 0 ? errno : 0)
    }

    public func fsync(_ fd: Int32) -> Int32 { Foundation.fsync(fd) == 0 ? 0 : errno }

    public func truncate(_ fd: Int32, to length: Int64) -> Int32 {
        Foundation.ftruncate(fd, off_t(length)) == 0 ? 0 : errno
    }

    public func size(_ fd: Int32) -> (size: Int64, error: Int32) {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return (-1, errno) }
        return (Int64(info.st_size), 0)
    }

    public func close(_ fd: Int32) { _ = Foundation.close(fd) }
}

/// Fsyncs the directory at `path`, so a file just created (or renamed) in it survives a crash.
func fsyncDirectory(_ path: String) {
    let dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard dir >= 0 else { return }
    _ = fsync(dir)
    close(dir)
}
