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

    public func open(_ path: String) -> (fd: Int32, error: Int32) { systemOpen(path) }

    public func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> (written: Int, error: Int32) {
        systemWrite(fd, bytes)
    }

    public func fsync(_ fd: Int32) -> Int32 { systemFsync(fd) }

    public func truncate(_ fd: Int32, to length: Int64) -> Int32 { systemTruncate(fd, length) }

    public func size(_ fd: Int32) -> (size: Int64, error: Int32) { systemSize(fd) }

    public func close(_ fd: Int32) { systemClose(fd) }
}

// The system calls, at file scope where their names are not shadowed by the methods above.

private func systemOpen(_ path: String) -> (fd: Int32, error: Int32) {
    let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    return (fd, fd < 0 ? errno : 0)
}

private func systemWrite(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> (written: Int, error: Int32) {
    let n = write(fd, bytes.baseAddress, bytes.count)
    return (max(n, 0), n < 0 ? errno : 0)
}

private func systemFsync(_ fd: Int32) -> Int32 { fsync(fd) == 0 ? 0 : errno }

private func systemTruncate(_ fd: Int32, _ length: Int64) -> Int32 { ftruncate(fd, off_t(length)) == 0 ? 0 : errno }

private func systemSize(_ fd: Int32) -> (size: Int64, error: Int32) {
    var info = stat()
    guard fstat(fd, &info) == 0 else { return (-1, errno) }
    return (Int64(info.st_size), 0)
}

private func systemClose(_ fd: Int32) { _ = close(fd) }

/// Fsyncs the directory at `path`, so a file just created (or renamed) in it survives a crash.
func fsyncDirectory(_ path: String) {
    let dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard dir >= 0 else { return }
    _ = fsync(dir)
    close(dir)
}
