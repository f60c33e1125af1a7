import Gossip
import Shard

/// The one faulty in-memory network that replication and gossip messages share, so a partition,
/// loss, duplication or a slow node hits the failure detector exactly as it hits the protocol it
/// drives.
extension ReplicationSimulation {
    /// The node named `id` ("n0", "n1", …). A scan of a handful of small strings: cheaper than
    /// parsing in an unoptimized build, and every message goes through it.
    func index(of id: String) -> Int? {
        var i = 0
        while i < nodes.count {
            if nodes[i].id == id { return i }
            i += 1
        }
        return nil
    }

    func connected(_ a: Int, _ b: Int) -> Bool {
        guard let partition else { return true }
        return partition[a] == partition[b]
    }

    /// How many copies of one message from `i` to `j` arrive: none when it is lost or cut off by
    /// a partition, two when it is duplicated. Each copy then takes its own `linkDelay`.
    func copies(from i: Int, to j: Int) -> Int {
        guard connected(i, j), random.nextUnit() >= loss else { return 0 }
        return random.nextUnit() < duplication ? 2 : 1
    }

    func send(_ message: ReplicationMessage, from i: Int, to id: String) {
        guard let j = index(of: id) else { return }
        for _ in 0..<copies(from: i, to: j) {
            queue.push(.deliver(message, to: j), at: now + linkDelay(from: i, to: j))
        }
    }

    /// Gossip to a node that is down but reachable is refused at once, which the shell reports to
    /// the core as a send failure (a hint that starts the indirect probe early); behind a
    /// partition it just vanishes.
    func sendGossip(_ message: GossipMessage, from i: Int, to address: String) {
        guard let j = gossipIndex(of: address), j != i else { return }
        if nodes[j].gossip == nil {
            guard connected(i, j) else { return }
            let refusedAfter = linkDelay(from: i, to: j) + linkDelay(from: j, to: i)
            queue.push(.gossipSendFailed(peer: j, node: i, generation: nodes[i].generation), at: now + refusedAfter)
            return
        }
        for _ in 0..<copies(from: i, to: j) {
            queue.push(.gossip(message, from: i, to: j), at: now + linkDelay(from: i, to: j))
        }
    }

    /// 0.25–0.75 ms, and 5% of messages 0–8 ms late (which reorders them); up to `slowExtra` more
    /// to or from the slow node.
    func linkDelay(from i: Int, to j: Int) -> ReplicationDuration {
        var delay = 250_000 + random.next() % 500_000
        if random.nextUnit() < 0.05 { delay += random.next() % 8_000_000 }
        if let slowNode, slowNode == i || slowNode == j { delay += random.next() % (slowExtra + 1) }
        return ReplicationDuration(nanoseconds: delay)
    }
}
