import Gossip

/// What uniform message loss did to a cluster in which nobody failed: every suspicion is a false
/// one, and any death is a false positive.
struct LossFigures {
    var seconds: Double = 0
    var nodes = 0
    /// Members put under suspicion by a node's own failed probe (`GossipStats.suspicionsRaised`).
    var suspicionsRaised = 0
    /// Times a suspected node raised its incarnation to refute a claim about itself.
    var selfRefutations = 0
    /// Suspicions overturned, counted by each node that had the member as suspect.
    var suspicionsRefuted = 0
    /// Declarations of death by some node about a node that was running all along.
    var falseDeaths = 0
    /// Distinct running nodes that anyone declared dead.
    var membersWronglyDead = 0
    /// Largest Lifeguard local health any node had at a once-a-second sample.
    var maxLocalHealth = 0
    /// Mean local health over nodes and samples.
    var meanLocalHealth = 0.0
    /// The first false death, told in words for a failure message: who, about whom, how long that
    /// observer had held the suspicion, and how many nodes had already seen it refuted.
    var firstFalseDeath: String?
}

extension Simulation {
    /// Runs `seconds` with every message lost with probability `loss`, then restores the old loss.
    func measureLoss(_ loss: Double, seconds: Double) -> LossFigures {
        var figures = LossFigures()
        figures.seconds = seconds
        figures.nodes = runningIndices.count
        let raised = total { $0.suspicionsRaised }
        let selfRefuted = total { $0.selfRefutations }
        let refuted = total { $0.suspicionsRefuted }
        var running = Array(repeating: false, count: nodes.count)
        for i in runningIndices { running[i] = true }
        let idIndex = Dictionary(uniqueKeysWithValues: nodes.indices.map { (nodes[$0].id, $0) })
        var wronglyDead = Array(repeating: false, count: nodes.count)
        var suspectedAt: [Int: GossipTime] = [:]
        let count = nodes.count
        let previous = onChange
        onChange = { [unowned self] change in
            guard let j = idIndex[change.member.id], running[j] else { return }
            if change.member.status == .suspect { suspectedAt[change.observer * count + j] = change.time }
            guard change.member.status == .dead else { return }
            figures.falseDeaths += 1
            if figures.firstFalseDeath == nil {
                let held = suspectedAt[change.observer * count + j].map { (change.time - $0).seconds }
                let refutedBy = runningIndices.filter {
                    (nodes[$0].instance?.member(change.member.id)?.incarnation ?? 0) > change.member.incarnation
                }.count
                figures.firstFalseDeath =
                    "n\(change.observer) declared \(change.member.id) (incarnation \(change.member.incarnation)) dead at "
                    + "\(change.time.nanoseconds / 1_000_000) ms after holding it suspect \(held.map { "\($0)" } ?? "?") s; "
                    + "\(refutedBy) of \(runningIndices.count) nodes then knew a higher incarnation"
            }
            if !wronglyDead[j] {
                wronglyDead[j] = true
                figures.membersWronglyDead += 1
            }
        }
        defer { onChange = previous }
        let oldLoss = self.loss
        self.loss = loss
        var healthSum = 0
        var samples = 0
        var elapsed = 0.0
        while elapsed < seconds {
            let step = min(1, seconds - elapsed)
            run(for: step)
            elapsed += step
            for i in runningIndices {
                let health = nodes[i].instance?.localHealth ?? 0
                figures.maxLocalHealth = max(figures.maxLocalHealth, health)
                healthSum += health
                samples += 1
            }
        }
        self.loss = oldLoss
        figures.meanLocalHealth = Double(healthSum) / Double(max(samples, 1))
        figures.suspicionsRaised = total { $0.suspicionsRaised } - raised
        figures.selfRefutations = total { $0.selfRefutations } - selfRefuted
        figures.suspicionsRefuted = total { $0.suspicionsRefuted } - refuted
        return figures
    }
}
