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
    /// No majority acknowledged the entry within `--commit-timeout`: the outcome is unknown, as
    /// for `outcomeUnknown`, but nothing changed hands; the replicas are unreachable or stuck.
    case commitTimedOut

    /// The answer to a client, for every refusal but `notPrimary` (which the route layer retries
    /// at the primary). `starting`: the write was a new session's start.
    func apiError(starting: Bool = false) -> APIError {
        switch self {
        case .outcomeUnknown where starting:
            APIError.unavailable("the session could not reach a majority of its replicas; retry", code: "no_quorum")
        case .outcomeUnknown:
            APIError.unavailable(
                "the primary changed before this write was acknowledged; retry it with the same id",
                code: "outcome_unknown"
            )
        case .commitTimedOut:
            APIError.unavailable(
                "no majority of the session's replicas acknowledged this in time; its outcome is unknown: retry with the same id",
                code: "no_quorum"
            )
        case .storage(let failure): failure.apiError
        case .notPrimary:
            APIError.unavailable("this node is not the session's primary; retry", code: "not_primary")
        }
    }
}
