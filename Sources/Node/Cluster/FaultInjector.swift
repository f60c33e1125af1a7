import Synchronization

/// Faults injected into this node's outbound peer traffic (`--fault-injection` only): partitions
/// (drop everything to a peer), message loss, and added delay. It is what the chaos harness and
/// the zone topology use instead of kernel qdiscs (no `netem` on these machines), in the spirit
/// of swift-distributed-actors' FaultyNetworkSimulatingHandler.
///
/// Applied where a message leaves: each gossip or forwarded request, and each frame on a link
/// stream. A delay is one-way: it is added once per message sent. Gossip's ping and its ack,
/// and a replication append and its ack, are messages in opposite directions, so configuring
/// both nodes with delay d adds 2d to their round trip (what `cluster/zones` does with half the
/// wanted round trip). Both directions of a partition are likewise set on both nodes.
public final class FaultInjector: Sendable {
    /// The faults, by peer node id.
    public struct Faults: Codable, Sendable, Equatable {
        /// Peers that cannot be reached at all.
        public var drop: [String] = []
        /// Added delay per request or frame, in milliseconds, by peer; `"*"` applies to every peer.
        public var delayMs: [String: Int] = [:]
        /// Percentage (0-100) of requests and frames lost, by peer; `"*"` applies to every peer.
        public var lossPercent: [String: Int] = [:]

        public init() {}

        /// Every field is optional in the JSON: `{}` clears all faults.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            drop = try c.decodeIfPresent([String].self, forKey: .drop) ?? []
            delayMs = try c.decodeIfPresent([String: Int].self, forKey: .delayMs) ?? [:]
            lossPercent = try c.decodeIfPresent([String: Int].self, forKey: .lossPercent) ?? [:]
        }
    }

    /// What to do with one outgoing message.
    enum Verdict: Equatable {
        case deliver(after: Duration)
        case drop
    }

    private let faults = Mutex(Faults())
    private let view: ClusterView

    public init(view: ClusterView) {
        self.view = view
    }

    public var current: Faults { faults.withLock { $0 } }

    public func set(_ new: Faults) {
        faults.withLock { $0 = new }
    }

    /// The verdict for a message to the peer at `address`.
    func verdict(address: String) -> Verdict {
        let id = view.snapshot.members.first { $0.address == address }?.id.rawValue ?? address
        return verdict(node: id)
    }

    func verdict(node id: String) -> Verdict {
        let f = faults.withLock { $0 }
        if f.drop.contains(id) { return .drop }
        if let loss = f.lossPercent[id] ?? f.lossPercent["*"], loss > 0, Int.random(in: 0..<100) < loss {
            return .drop
        }
        let delay = f.delayMs[id] ?? f.delayMs["*"] ?? 0
        return .deliver(after: .milliseconds(max(0, delay)))
    }
}
