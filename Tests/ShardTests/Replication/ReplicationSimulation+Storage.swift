import Shard

/// Disks that fail for a while, as a full disk does: every log write and vote write fails. The
/// shell is modelled on the node's (`SessionHost` with a fail-stop `AppendLog`): the failed
/// write and every one queued behind it fail and never reach the disk, the core is told
/// (`diskFailed`), later writes fail at once, and a retry every 20 ms recovers once the disk
/// works: the vote the core holds is stored, then what it holds past the durable point
/// (`diskRecovered`).
extension ReplicationSimulation {
    func diskFails(_ i: Int) -> Bool {
        nodes[i].diskFailingUntil.map { now < $0 } ?? false
    }

    /// Node i's disk fails from now for 5-80 ms.
    func failDisk(_ i: Int) {
        let length = ReplicationDuration(nanoseconds: 5_000_000 + random.next() % 75_000_000)
        nodes[i].diskFailingUntil = now + length
        stats.diskFailureWindows += 1
        trace.record(20, UInt64(i), length.nanoseconds)
        log("n\(i) disk fails for \(length)")
    }

    /// A log or vote write of node i failed: poison its log, drop what was queued, tell the core.
    func diskWriteFailed(_ i: Int) {
        guard nodes[i].alive, !nodes[i].diskPoisoned else { return }
        nodes[i].diskPoisoned = true
        nodes[i].pendingDisk = []
        nodes[i].diskRound += 1
        stats.diskWriteFailures += 1
        trace.record(21, UInt64(i))
        execute(nodes[i].replica!.diskFailed(now: now), at: i)
        queue.push(.diskRetry(node: i, generation: nodes[i].generation), at: now + .milliseconds(20))
    }

    func retryDisk(_ i: Int, generation: UInt64) {
        guard nodes[i].alive, nodes[i].generation == generation, nodes[i].diskPoisoned else { return }
        if diskFails(i) {
            queue.push(.diskRetry(node: i, generation: generation), at: now + .milliseconds(20))
            return
        }
        nodes[i].diskPoisoned = false
        let replica = nodes[i].replica!
        nodes[i].disk.epoch = replica.epoch
        nodes[i].disk.votedFor = replica.votedFor
        touched |= 1 << UInt64(i)
        guard let rewrite = nodes[i].replica!.diskRecovered(now: now) else { return }
        stats.diskRecoveries += 1
        trace.record(22, UInt64(i), rewrite.lastSeq)
        enqueueDisk(
            DiskOp(
                entries: rewrite.entries,
                truncateAfter: rewrite.truncateAfter,
                snapshot: rewrite.snapshot,
                lastSeq: rewrite.lastSeq
            ),
            node: i
        )
    }

    /// After the run: completes every queued disk write (no fault is left), so the disks can be
    /// compared with the cores' logs.
    func flushDisks() {
        for i in nodes.indices where nodes[i].alive {
            while !nodes[i].pendingDisk.isEmpty { applyToDisk(nodes[i].pendingDisk.removeFirst(), node: i) }
        }
    }

    /// The log on node i's disk: the snapshot's entries then the stored tail.
    func diskLog(_ i: Int) -> [ReplicationEntry] {
        let disk = nodes[i].disk
        var entries = disk.snapshot.map { SimSnapshotCodec.decode($0.data) } ?? []
        for entry in disk.log where entry.seq == UInt64(entries.count) + 1 { entries.append(entry) }
        return entries
    }
}
