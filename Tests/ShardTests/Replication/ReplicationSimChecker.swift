import Shard

/// The invariants of replication, checked incrementally as the simulation executes directives.
///
/// It mirrors each node's in-memory log from the `.persist` / `.installSnapshot` directives (the
/// whole log, snapshot part included) with a running hash of every prefix, and keeps the one
/// global committed log. Each check costs only the entries that changed, so it can run after every
/// step of a thousand seeds.
struct ReplicationSimChecker {
    private struct EntryKey: Hashable {
        var seq: UInt64
        var epoch: UInt64
    }

    let seed: UInt64
    private(set) var violations: [String] = []
    private(set) var mirrors: [[ReplicationEntry]]
    private var prefixHashes: [[UInt64]]
    private var commits: [UInt64]
    /// Every committed entry, by seq (index seq - 1); it only grows and never changes.
    private(set) var committedLog: [ReplicationEntry] = []
    /// The epoch of the primary that committed each seq (index seq - 1). Leader Completeness: every
    /// primary of that epoch or later holds the committed entry; only an older one (deposed but not
    /// yet aware) may still append something else there, to be truncated later.
    private var commitEpochs: [UInt64] = []
    /// Prefix hash of the log ending at each (seq, epoch) ever created: Log Matching says equal.
    private var prefixByEntry: [EntryKey: UInt64] = [:]
    /// The node that became primary in each epoch.
    private(set) var primaries: [UInt64: Int] = [:]
    /// Seq the primary assigned to each write id.
    private var proposals: [UInt64: UInt64] = [:]
    /// Seq at which each acknowledged (committed) write id sits.
    private(set) var acknowledged: [UInt64: UInt64] = [:]
    private(set) var firstWriteAfterHeal: UInt64?
    private(set) var proposedCount = 0

    init(nodeCount: Int, seed: UInt64) {
        self.seed = seed
        mirrors = Array(repeating: [], count: nodeCount)
        prefixHashes = Array(repeating: [], count: nodeCount)
        commits = Array(repeating: 0, count: nodeCount)
    }

    mutating func fail(_ message: String) {
        violations.append(message.hasPrefix("seed ") ? message : "seed \(seed): \(message)")
    }

    /// The highest acknowledged write id (ids grow with time, so this tells whether any write
    /// proposed after a moment was acknowledged).
    private(set) var maxAcknowledgedID: UInt64 = 0

    private static func hash(_ previous: UInt64, _ entry: ReplicationEntry) -> UInt64 {
        var value = previous ^ 0xCBF2_9CE4_8422_2325
        value = (value ^ entry.seq) &* 0x100_0000_01B3
        value ^= value >> 29
        value = (value ^ entry.epoch) &* 0x100_0000_01B3
        value ^= value >> 29
        value = (value ^ entry.contentWord) &* 0x100_0000_01B3
        value ^= value >> 29
        return value
    }

    /// Appends to node i's mirror, checking contiguity, Log Matching and the committed log.
    /// A restarted node's disk may legitimately hold a stale divergent tail at seqs committed since
    /// (`againstCommitted: false`); a freshly appended entry differs from a committed one only if a
    /// primary older than the committing one created it.
    private mutating func append(_ entry: ReplicationEntry, node i: Int, againstCommitted: Bool = true) -> Bool {
        guard entry.seq == UInt64(mirrors[i].count) + 1 else {
            fail("n\(i) log gap: got seq \(entry.seq) after \(mirrors[i].count)")
            return false
        }
        let hash = Self.hash(prefixHashes[i].last ?? 0, entry)
        let key = EntryKey(seq: entry.seq, epoch: entry.epoch)
        if let known = prefixByEntry[key], known != hash {
            fail("n\(i) log matching: entry (seq \(entry.seq), epoch \(entry.epoch)) with a different prefix")
            return false
        }
        prefixByEntry[key] = hash
        if againstCommitted, entry.seq <= UInt64(committedLog.count), committedLog[Int(entry.seq - 1)] != entry,
            entry.epoch >= commitEpochs[Int(entry.seq - 1)]
        {
            let committed = committedLog[Int(entry.seq - 1)]
            fail(
                "n\(i) appended \(entry) at seq \(entry.seq), committed in epoch \(commitEpochs[Int(entry.seq - 1)]) as \(committed)"
            )
            return false
        }
        mirrors[i].append(entry)
        prefixHashes[i].append(hash)
        return true
    }

    mutating func persisted(_ entries: [ReplicationEntry], truncateAfter: UInt64?, node i: Int, nodeID: String) {
        if let truncateAfter, truncateAfter < UInt64(mirrors[i].count) {
            let keep = Int(truncateAfter)
            if keep < min(mirrors[i].count, committedLog.count), mirrors[i][keep] == committedLog[keep] {
                fail("n\(i) truncated committed entry at seq \(keep + 1)")
                return
            }
            mirrors[i].removeLast(mirrors[i].count - keep)
            prefixHashes[i].removeLast(prefixHashes[i].count - keep)
        }
        for entry in entries where !append(entry, node: i) { return }
    }

    mutating func installed(_ snapshot: ReplicationSnapshot, node i: Int) {
        let entries = SimSnapshotCodec.decode(snapshot.data)
        guard UInt64(entries.count) == snapshot.seq, snapshot.seq <= UInt64(committedLog.count) else {
            fail("n\(i) installed snapshot at \(snapshot.seq) beyond the committed log (\(committedLog.count))")
            return
        }
        mirrors[i] = []
        prefixHashes[i] = []
        for entry in entries where !append(entry, node: i) { return }
        commits[i] = max(commits[i], snapshot.seq)
    }

    /// Node i, in `epoch`, reports its commit point. The first report of a seq comes from the primary
    /// that committed it (replicas learn commits from it), so `epoch` is the committing epoch then.
    mutating func committed(upTo seq: UInt64, node i: Int, epoch: UInt64) {
        guard seq <= UInt64(mirrors[i].count) else {
            fail("n\(i) committed up to \(seq) but holds \(mirrors[i].count)")
            return
        }
        guard seq > commits[i] else {
            fail("n\(i) commit went back from \(commits[i]) to \(seq)")
            return
        }
        for s in Int(commits[i])..<Int(seq) {
            let entry = mirrors[i][s]
            if s < committedLog.count {
                if committedLog[s] != entry {
                    fail("n\(i) committed \(entry) but seq \(s + 1) was committed as \(committedLog[s])")
                    return
                }
                continue
            }
            committedLog.append(entry)
            commitEpochs.append(epoch)
            if case .data(let payload) = entry.kind {
                let id = SimSnapshotCodec.writeID(payload)
                if acknowledged[id] != nil {
                    fail("write \(id) committed twice")
                    return
                }
                if let proposedSeq = proposals[id], proposedSeq != entry.seq {
                    fail("write \(id) proposed at seq \(proposedSeq) committed at \(entry.seq)")
                    return
                }
                acknowledged[id] = entry.seq
                maxAcknowledgedID = max(maxAcknowledgedID, id)
            }
        }
        commits[i] = seq
    }

    mutating func becamePrimary(epoch: UInt64, node i: Int) {
        if let other = primaries[epoch], other != i {
            fail("two primaries in epoch \(epoch): n\(other) and n\(i)")
        }
        primaries[epoch] = i
    }

    mutating func proposed(id: UInt64, seq: UInt64, node: Int, afterHeal: Bool) {
        proposals[id] = seq
        proposedCount += 1
        if afterHeal, firstWriteAfterHeal == nil { firstWriteAfterHeal = id }
    }

    mutating func killed(node i: Int) {}

    /// A restarted node's log is what its disk held: snapshot entries plus the durable tail.
    mutating func restarted(node i: Int, disk: ReplicationSimulation.Disk, commitSeq: UInt64) {
        mirrors[i] = []
        prefixHashes[i] = []
        let base = disk.snapshot?.seq ?? 0
        var entries = disk.snapshot.map { SimSnapshotCodec.decode($0.data) } ?? []
        for entry in disk.log where entry.seq > base && entry.seq == UInt64(entries.count) + 1 { entries.append(entry) }
        for entry in entries where !append(entry, node: i, againstCommitted: false) { return }
        commits[i] = commitSeq
    }

    /// Cheap consistency between the running cores in `touched` (a bit per node: those called in
    /// the last step; the others have not changed since they were checked) and their mirrors, and
    /// single primary per epoch.
    mutating func checkNodes(_ touched: UInt64, nodes: [ReplicationSimulation.Node]) {
        guard violations.isEmpty else { return }
        for i in nodes.indices where touched & (1 << UInt64(i)) != 0 {
            guard let replica = nodes[i].replica else { continue }
            if replica.lastSeq != UInt64(mirrors[i].count) {
                fail("n\(i) core holds \(replica.lastSeq) entries, directives say \(mirrors[i].count)")
                return
            }
            if let last = replica.entry(at: replica.lastSeq), last != mirrors[i].last {
                fail("n\(i) core's last entry \(last) differs from directives' \(String(describing: mirrors[i].last))")
                return
            }
            if replica.commitSeq > replica.lastSeq || replica.durableSeq > replica.lastSeq {
                fail("n\(i) commit \(replica.commitSeq) / durable \(replica.durableSeq) past last \(replica.lastSeq)")
                return
            }
            if replica.role == .primary, primaries[replica.epoch] != i {
                fail("n\(i) is primary of epoch \(replica.epoch) without having become it")
                return
            }
        }
    }

    /// At the end, after healing: the member's log starts with the whole committed log (so every
    /// acknowledged write is there, at its seq) and holds each write at most once.
    mutating func finalCheck(node i: Int, replica: SessionReplica, seed: UInt64) {
        let mirror = mirrors[i]
        guard mirror.count >= committedLog.count, Array(mirror[0..<committedLog.count]) == committedLog else {
            fail("n\(i) final log (\(mirror.count)) lacks part of the committed log (\(committedLog.count))")
            return
        }
        let base = Int(replica.snapshot?.seq ?? 0)
        guard Array(mirror[base...]) == replica.entries else {
            fail("n\(i) core log differs from the directives' log")
            return
        }
        var seen: Set<UInt64> = []
        for entry in mirror {
            guard case .data(let payload) = entry.kind else { continue }
            let id = SimSnapshotCodec.writeID(payload)
            if !seen.insert(id).inserted {
                fail("n\(i) holds write \(id) twice")
                return
            }
            if let ackedSeq = acknowledged[id], ackedSeq != entry.seq {
                fail("n\(i) holds write \(id) at \(entry.seq), acknowledged at \(ackedSeq)")
                return
            }
        }
        for (id, seq) in acknowledged where !seen.contains(id) {
            fail("n\(i) lost acknowledged write \(id) (seq \(seq))")
            return
        }
    }
}
