import Shard

/// What happened in simulation runs, summed over seeds: evidence that the fault mix reaches the
/// protocol's hard paths and that gossip, not the fallback timeout, drives failover.
struct ReplicationSimStats: CustomStringConvertible {
    var delivered = 0, elections = 0, stepDowns = 0, truncations = 0, snapshotsInstalled = 0
    var compactions = 0, kills = 0, restarts = 0, partitions = 0, transfers = 0, removals = 0
    var additions = 0, slowdowns = 0, powerLosses = 0, acknowledged = 0
    var gossipDelivered = 0
    /// Disks that started failing, writes of theirs that failed, recoveries.
    var diskFailureWindows = 0, diskWriteFailures = 0, diskRecoveries = 0
    /// The directory's doings: replica-set changes, serve directives, retired copies, adoptions.
    var directoryAdds = 0, directoryRemovals = 0, serves = 0, retirements = 0, adoptions = 0
    /// Gossip verdicts of `suspect` (any member, any observer).
    var suspicions = 0
    /// `primaryLost` calls made because gossip marked a node's primary suspect, dead or left.
    var primaryLostCalls = 0
    /// Of those, calls about a primary that was up and reachable from the caller.
    var falseSuspicions = 0
    /// False ones after healing: no fault at all, only the network's ordinary latency tail.
    var falseSuspicionsHealed = 0
    /// Kill of a primary until a follower's gossip reported it (one sample per follower).
    var detections = 0
    var detectionTotal = ReplicationDuration.zero
    var worstDetection = ReplicationDuration.zero
    /// Kill of the primary until the next primary was elected.
    var failovers = 0
    var worstFailover = ReplicationDuration.zero

    mutating func recordFailover(_ duration: ReplicationDuration) {
        failovers += 1
        worstFailover = max(worstFailover, duration)
    }

    mutating func recordDetection(_ latency: ReplicationDuration) {
        detections += 1
        detectionTotal = detectionTotal + latency
        worstDetection = max(worstDetection, latency)
    }

    var meanDetection: ReplicationDuration {
        detections == 0 ? .zero : ReplicationDuration(nanoseconds: detectionTotal.nanoseconds / UInt64(detections))
    }

    static func + (a: Self, b: Self) -> Self {
        var sum = a
        sum.delivered += b.delivered
        sum.elections += b.elections
        sum.stepDowns += b.stepDowns
        sum.truncations += b.truncations
        sum.snapshotsInstalled += b.snapshotsInstalled
        sum.compactions += b.compactions
        sum.kills += b.kills
        sum.restarts += b.restarts
        sum.partitions += b.partitions
        sum.transfers += b.transfers
        sum.removals += b.removals
        sum.additions += b.additions
        sum.slowdowns += b.slowdowns
        sum.powerLosses += b.powerLosses
        sum.diskFailureWindows += b.diskFailureWindows
        sum.diskWriteFailures += b.diskWriteFailures
        sum.diskRecoveries += b.diskRecoveries
        sum.acknowledged += b.acknowledged
        sum.gossipDelivered += b.gossipDelivered
        sum.directoryAdds += b.directoryAdds
        sum.directoryRemovals += b.directoryRemovals
        sum.serves += b.serves
        sum.retirements += b.retirements
        sum.adoptions += b.adoptions
        sum.suspicions += b.suspicions
        sum.primaryLostCalls += b.primaryLostCalls
        sum.falseSuspicions += b.falseSuspicions
        sum.falseSuspicionsHealed += b.falseSuspicionsHealed
        sum.detections += b.detections
        sum.detectionTotal = sum.detectionTotal + b.detectionTotal
        sum.worstDetection = max(a.worstDetection, b.worstDetection)
        sum.failovers += b.failovers
        sum.worstFailover = max(a.worstFailover, b.worstFailover)
        return sum
    }

    var description: String {
        "delivered \(delivered) (gossip \(gossipDelivered)), elections \(elections), step-downs \(stepDowns), "
            + "truncations \(truncations), snapshots installed \(snapshotsInstalled), compactions \(compactions), "
            + "kills \(kills), restarts \(restarts), partitions \(partitions), slowdowns \(slowdowns), "
            + "power losses \(powerLosses), "
            + "disk failures \(diskFailureWindows) (\(diskWriteFailures) failed writes, \(diskRecoveries) recoveries), "
            + "transfers \(transfers), removals \(removals), additions \(additions), acknowledged \(acknowledged); "
            + "gossip: suspicions \(suspicions), primaryLost \(primaryLostCalls) "
            + "(false \(falseSuspicions), of which after healing \(falseSuspicionsHealed)), "
            + "dead-primary detection mean \(meanDetection) worst \(worstDetection) over \(detections), "
            + "failover worst \(worstFailover) over \(failovers); "
            + "directory: adds \(directoryAdds), removals \(directoryRemovals), serves \(serves), "
            + "retirements \(retirements), adoptions \(adoptions)"
    }
}
