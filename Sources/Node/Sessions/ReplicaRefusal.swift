/// Why a node's copy of a session did not take a write. The route layer retries the first on
/// the primary (the write was never applied); the second is answered 503: the write may still
/// commit under the next primary, and a retry with the same idempotency key is applied once.
enum ReplicaRefusal: Error, Sendable, Equatable {
    /// This node is not (or no longer) the primary; `hint` is the primary it knows of.
    case notPrimary(hint: String?)
    /// The primary stepped down or lost the entry before a majority had it.
    case outcomeUnknown
    /// This copy's log cannot be written (fail-stop after a failed write or fsync, or the disk
    /// below `--min-free-disk`): `507 insufficient_storage` for a full disk, else 503. Never
    /// acknowledged here; it may still commit under another primary, like `outcomeUnknown`.
    case storage(StorageError)
}
