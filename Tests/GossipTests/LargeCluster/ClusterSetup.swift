import Gossip

/// Starting a large simulated cluster the way a real one starts, and waiting until it is quiet:
/// the starting point of every large-cluster measurement and test.
extension Simulation {
    /// `count` nodes started at once, each joining through node 0 as a real node does (a push-pull
    /// with the seed, then gossip), and `spare` more left stopped so a join can be measured later.
    /// Returns the virtual seconds until every running node listed every started node alive, or
    /// nil if that did not happen `within` seconds.
    static func started(seed: UInt64, count: Int, spare: Int = 0, within: Double) -> (Simulation, Double?) {
        let sim = Simulation(seed: seed, nodeCount: count + spare)
        for i in 0..<count { sim.start(i) }
        let expected = Array(0..<count)
        let took = sim.run(for: within, checkEvery: 0.5) { $0.allAlive(expected) }
        return (sim, took)
    }

    /// Runs until messages stop carrying the start's backlog: every node learns every member at
    /// once and queues each for `retransmitLimit` piggybacked sends, which takes minutes to drain at
    /// 1,000 nodes. Measured traffic and dissemination are of a quiet cluster, so they wait for a
    /// whole second in which under 1% of messages carried an update. Returns the virtual seconds
    /// it took, or nil.
    func settle(within limit: Double) -> Double? {
        var messages = 0
        var withUpdates = 0
        let previous = onTransmit
        onTransmit = { message, _, _, fate in
            guard fate != .refused else { return }
            messages += 1
            if !message.updates.isEmpty { withUpdates += 1 }
        }
        defer { onTransmit = previous }
        return run(for: limit, checkEvery: 1) { _ in
            defer {
                messages = 0
                withUpdates = 0
            }
            return messages > 0 && Double(withUpdates) < 0.01 * Double(messages)
        }
    }
}

/// Nearest-rank percentiles of a small sample. With 20 samples p99 is the largest one, which is
/// what a reader should take it for.
func percentile(_ values: [Double], _ p: Double) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
    return sorted[min(max(rank, 1), sorted.count) - 1]
}
