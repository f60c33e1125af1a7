import Gossip

/// How long the cluster took to notice one killed node, in virtual seconds after the kill.
struct KillTiming {
    /// Until some node marked it suspect (its own failed probe).
    var firstSuspect: Double?
    /// Until some node declared it dead (its suspicion timer ran out).
    var firstDead: Double?
    /// Until every running node listed it dead: the figure `worstCaseDetection` bounds.
    var allDead: Double?
}

extension Simulation {
    /// Kills `victim` now and runs until every other running node lists it dead, or `limit`
    /// seconds. `resetConnections`: a `kill -9` whose sockets the kernel resets, which every peer
    /// holding a connection sees (the node's shell keeps one to every peer it has probed); without
    /// it the node vanishes silently (a host lost, a cable pulled) and only SWIM's probes find it.
    /// Times are exact event times, taken from the membership changes as they happen.
    func measureKill(_ victim: Int, resetConnections: Bool, limit: Double) -> KillTiming {
        let victimID = nodes[victim].id
        let generation = nodes[victim].generation
        let start = now
        var timing = KillTiming()
        var sawDead = Array(repeating: false, count: nodes.count)
        var deadCount = 0
        let observers = runningIndices.filter { $0 != victim }.count
        let previous = onChange
        onChange = { change in
            guard change.member.id == victimID, change.member.generation == generation else { return }
            let elapsed = (change.time - start).seconds
            switch change.member.status {
            case .suspect:
                if timing.firstSuspect == nil { timing.firstSuspect = elapsed }
            case .dead:
                if timing.firstDead == nil { timing.firstDead = elapsed }
                if !sawDead[change.observer] {
                    sawDead[change.observer] = true
                    deadCount += 1
                    if deadCount == observers { timing.allDead = elapsed }
                }
            case .alive, .left:
                break
            }
        }
        defer { onChange = previous }
        kill(victim, resetConnections: resetConnections)
        run(for: limit, checkEvery: 0.05) { _ in deadCount >= observers }
        return timing
    }
}
