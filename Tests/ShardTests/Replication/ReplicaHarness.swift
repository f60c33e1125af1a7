import Shard

/// A hand-driven replica set for the rule tests: messages wait in one FIFO inbox until delivered,
/// disk writes become durable at once (or when `flushDisk` is called, if `autoDurable` is off).
struct ReplicaHarness {
    var replicas: [String: SessionReplica] = [:]
    var now = ReplicationTime.milliseconds(1)
    var inbox: [(message: ReplicationMessage, to: String)] = []
    var down: Set<String> = []
    var autoDurable = true
    /// Disk writes not yet durable, per node, in order (the seq to report).
    var pendingDisk: [String: [UInt64]] = [:]
    /// Every directive each node returned, oldest first.
    var history: [String: [ReplicationDirective]] = [:]

    static let session = "live-1"

    /// `ids[0]` bootstraps the session with the first `memberCount` ids as members.
    init(_ ids: [String], memberCount: Int? = nil, settings: ReplicationSettings = .lan) {
        let members = Array(ids.prefix(memberCount ?? ids.count))
        for (index, id) in ids.enumerated().dropFirst() {
            replicas[id] = SessionReplica(
                session: Self.session,
                me: id,
                members: members,
                settings: settings,
                random: UInt64(index),
                now: now
            )
        }
        let (primary, directives) = SessionReplica.bootstrapPrimary(
            session: Self.session,
            me: ids[0],
            members: members,
            settings: settings,
            random: 99,
            now: now
        )
        replicas[ids[0]] = primary
        apply(ids[0], directives)
    }

    subscript(id: String) -> SessionReplica {
        get { replicas[id]! }
        set { replicas[id] = newValue }
    }

    mutating func apply(_ id: String, _ directives: [ReplicationDirective]) {
        history[id, default: []] += directives
        for directive in directives {
            switch directive {
            case .send(let message, let to): inbox.append((message, to))
            case .persist(let entries, let truncateAfter):
                pendingDisk[id, default: []].append(entries.last?.seq ?? truncateAfter!)
            case .installSnapshot(let snapshot): pendingDisk[id, default: []].append(snapshot.seq)
            default: break
            }
        }
        if autoDurable { flushDisk(id) }
    }

    mutating func flushDisk(_ id: String) {
        while let seq = pendingDisk[id]?.first {
            pendingDisk[id]!.removeFirst()
            apply(id, replicas[id]!.localDurable(upTo: seq, now: now))
        }
    }

    /// Delivers messages (and whatever they cause) until none are left.
    mutating func deliverAll(limit: Int = 10_000) {
        var steps = 0
        while !inbox.isEmpty, steps < limit {
            steps += 1
            let (message, to) = inbox.removeFirst()
            guard !down.contains(to), !down.contains(message.sender), replicas[to] != nil else { continue }
            apply(to, replicas[to]!.receive(message, from: message.sender, now: now))
        }
    }

    /// Like `deliverAll`, but messages to `slow` wait in `held` instead of being delivered.
    mutating func deliverAll(holding slow: String, into held: inout [(message: ReplicationMessage, to: String)]) {
        while !inbox.isEmpty {
            let (message, to) = inbox.removeFirst()
            if to == slow {
                held.append((message, to))
            } else if !down.contains(to), !down.contains(message.sender), replicas[to] != nil {
                apply(to, replicas[to]!.receive(message, from: message.sender, now: now))
            }
        }
    }

    /// Delivers `messages` now, in order, and nothing else.
    mutating func deliver(_ messages: [(message: ReplicationMessage, to: String)]) {
        for (message, to) in messages where !down.contains(to) && replicas[to] != nil {
            apply(to, replicas[to]!.receive(message, from: message.sender, now: now))
        }
    }

    mutating func propose(_ id: String, _ byte: UInt8) -> UInt64? {
        guard case .success(let (seq, directives)) = replicas[id]!.propose([byte], now: now) else { return nil }
        apply(id, directives)
        return seq
    }

    mutating func tick(_ id: String, after duration: ReplicationDuration) {
        now = now + duration
        apply(id, replicas[id]!.tick(now: now))
    }

    /// Messages addressed to `id` still waiting.
    func pending(to id: String) -> [ReplicationMessage] { inbox.filter { $0.to == id }.map(\.message) }
}

/// A replica restored from a given log, as after a restart, for single-replica rule tests.
func restoredReplica(
    _ me: String,
    members: [String] = ["a", "b", "c"],
    epoch: UInt64,
    votedFor: String? = nil,
    log: [(seq: UInt64, epoch: UInt64)]
) -> SessionReplica {
    var replica = SessionReplica(session: ReplicaHarness.session, me: me, members: members, random: 1, now: .zero)
    let entries = log.map { ReplicationEntry(seq: $0.seq, epoch: $0.epoch, kind: .data([UInt8($0.seq)])) }
    replica.restore(from: .init(epoch: epoch, votedFor: votedFor), log: entries, now: .zero)
    return replica
}

func voteRequest(from candidate: String, epoch: UInt64, lastSeq: UInt64, lastEpoch: UInt64) -> ReplicationMessage {
    ReplicationMessage(
        session: ReplicaHarness.session,
        sender: candidate,
        epoch: epoch,
        kind: .requestVote(lastSeq: lastSeq, lastEpoch: lastEpoch, transfer: false)
    )
}

func appendMessage(
    from primary: String,
    epoch: UInt64,
    prevSeq: UInt64,
    prevEpoch: UInt64,
    entries: [(seq: UInt64, epoch: UInt64)],
    commitSeq: UInt64
) -> ReplicationMessage {
    let entries = entries.map { ReplicationEntry(seq: $0.seq, epoch: $0.epoch, kind: .data([UInt8($0.seq)])) }
    return ReplicationMessage(
        session: ReplicaHarness.session,
        sender: primary,
        epoch: epoch,
        kind: .append(prevSeq: prevSeq, prevEpoch: prevEpoch, entries: entries, commitSeq: commitSeq)
    )
}

/// The vote a replica sent in reply, if any.
func voteGranted(_ directives: [ReplicationDirective]) -> Bool? {
    for case .send(let message, _) in directives {
        if case .vote(let granted) = message.kind { return granted }
    }
    return nil
}

/// The append acknowledgement a replica sent in reply, if any.
func appendAck(_ directives: [ReplicationDirective]) -> (success: Bool, matchSeq: UInt64, lastSeq: UInt64)? {
    for case .send(let message, _) in directives {
        if case .appendAck(let success, let matchSeq, let lastSeq) = message.kind {
            return (success, matchSeq, lastSeq)
        }
    }
    return nil
}
