import Foundation
import Synchronization

@testable import Node

/// The test-only storage fault injector: the real file system, except that writes can be made
/// short, the disk full, fsync or ftruncate fail, on demand. Hand it to `AppendLog` (or
/// `ReplicaStore`) as its `LogFileOps`.
final class FaultyLogFileOps: LogFileOps {
    enum Fault: Equatable {
        case none
        /// The next write stores only this many bytes; every write after it fails with ENOSPC
        /// (a disk that fills in the middle of a record).
        case shortWrite(bytes: Int)
        /// Every write fails with ENOSPC.
        case diskFull
        /// Writes succeed, fsync fails with this errno.
        case fsyncFails(Int32)
    }

    private struct State {
        var fault = Fault.none
        var truncateFails = false
        var writes = 0
        var fsyncs = 0
        var truncates = 0
    }
    private let state = Mutex(State())
    private let real = PosixLogFileOps()

    var fault: Fault {
        get { state.withLock { $0.fault } }
        set { state.withLock { $0.fault = newValue } }
    }

    /// ftruncate fails with EIO (the cut after a failure cannot be made yet).
    var truncateFails: Bool {
        get { state.withLock { $0.truncateFails } }
        set { state.withLock { $0.truncateFails = newValue } }
    }

    var fsyncs: Int { state.withLock { $0.fsyncs } }

    func open(_ path: String) -> (fd: Int32, error: Int32) { real.open(path) }

    func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> (written: Int, error: Int32) {
        let fault = state.withLock { s -> Fault in
            s.writes += 1
            let fault = s.fault
            if case .shortWrite = fault { s.fault = .diskFull }
            return fault
        }
        switch fault {
        case .none, .fsyncFails:
            return real.write(fd, bytes)
        case .diskFull:
            return (0, ENOSPC)
        case .shortWrite(let limit):
            return real.write(fd, UnsafeRawBufferPointer(rebasing: bytes.prefix(min(limit, bytes.count))))
        }
    }

    func fsync(_ fd: Int32) -> Int32 {
        let fault = state.withLock { s -> Fault in
            s.fsyncs += 1
            return s.fault
        }
        if case .fsyncFails(let error) = fault { return error }
        return real.fsync(fd)
    }

    func truncate(_ fd: Int32, to length: Int64) -> Int32 {
        let fails = state.withLock { s -> Bool in
            s.truncates += 1
            return s.truncateFails
        }
        return fails ? EIO : real.truncate(fd, to: length)
    }

    func size(_ fd: Int32) -> (size: Int64, error: Int32) { real.size(fd) }

    func close(_ fd: Int32) { real.close(fd) }
}
