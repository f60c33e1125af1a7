import Foundation

/// Why a log could not be written or read.
public enum StorageError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The disk is full (ENOSPC, EDQUOT): answered `507 insufficient_storage`.
    case noSpace(path: String)
    /// Any other I/O error: answered 503.
    case io(path: String, reason: String)
    case corrupt(path: String, line: Int)

    /// The error for `code` (an errno value) during `operation` on `path`.
    static func errno(_ code: Int32, path: String, operation: String) -> StorageError {
        if code == ENOSPC || code == EDQUOT { return .noSpace(path: path) }
        return .io(path: path, reason: "\(operation): " + String(cString: strerror(code)))
    }

    /// Whether this is a full disk (507) rather than another I/O error (503).
    public var isNoSpace: Bool {
        if case .noSpace = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .noSpace(let path): return "no space left on device for \(path)"
        case .io(let path, let reason): return "storage error on \(path): \(reason)"
        case .corrupt(let path, let line): return "corrupt record at line \(line) of \(path)"
        }
    }
}
