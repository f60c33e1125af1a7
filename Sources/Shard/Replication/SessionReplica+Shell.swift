extension SessionReplica {
    /// When the shell must call `tick` next: the primary's next heartbeat (check-quorum runs with
    /// it) or its transfer deadline, a replica's or candidate's election deadline. The shell arms
    /// one timer for it instead of ticking every few milliseconds.
    public var nextTimer: ReplicationTime {
        switch role {
        case .primary:
            guard let transfer else { return nextHeartbeat }
            return min(nextHeartbeat, transfer.deadline)
        case .replica, .candidate:
            return electionDeadline
        }
    }

    /// After a restart: entries up to `seq` are known committed (the shell stored that when the
    /// session settled, its `ended` event committed), so they are shown again at once, with no
    /// election to relearn it. Ignored beyond the log.
    public mutating func restoreCommitted(upTo seq: UInt64) -> [ReplicationDirective] {
        let upTo = min(seq, log.lastSeq)
        guard upTo > commitSeq else { return [] }
        commitSeq = upTo
        return [.committed(upTo: upTo)]
    }
}
