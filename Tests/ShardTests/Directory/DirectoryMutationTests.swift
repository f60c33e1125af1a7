import Shard
import Testing

/// Mutation checks for three rules the chaos runs broke before: each decision is written again
/// here as a small model with a switch for the rule. The same scenario runs through the real
/// core, the model with the rule and the model without it (the mutant). The model with the rule
/// must agree with the core (so the model is faithful), and the mutant must not (so the scenario,
/// and the tests built on it, notice when the rule goes missing).
@Suite("Directory: mutation checks")
struct DirectoryMutationTests {
    typealias F = DirFix

    // MARK: Removal notices: the epoch check

    /// The removal-notice decision; `checksEpoch` false is the mutant (the bug that deleted a log
    /// the new primary counted on).
    struct RemovalModel {
        var checksEpoch: Bool

        func notice(_ copy: DirectoryCopy, served: Bool, epoch: UInt64) -> [DirectoryDirective] {
            guard copy.role != .primary else { return [] }
            if checksEpoch, epoch < copy.epoch { return [] }
            let unserve: [DirectoryDirective] = served ? [.unserve(group: copy.group, session: copy.session)] : []
            return unserve + [.retire(session: copy.session, removedAtEpoch: epoch)]
        }
    }

    static func realNotice(_ copy: DirectoryCopy, epoch: UInt64) -> [DirectoryDirective] {
        var directory = F.directory()
        _ = directory.adopted(copy, now: F.t(0))
        return directory.removalNotice(session: copy.session, epoch: epoch)
    }

    @Test("removal notice: the mutant without the epoch check retires a copy added back at a later epoch")
    func removalEpochMutant() {
        // Removed by the primary of epoch 4, added back by the primary of epoch 5; the notice of
        // epoch 4 arrives after the re-add.
        let addedBack = F.copy(epoch: 5, primary: "c", last: 12, commit: 12)
        let real = Self.realNotice(addedBack, epoch: 4)
        let model = RemovalModel(checksEpoch: true).notice(addedBack, served: true, epoch: 4)
        let mutant = RemovalModel(checksEpoch: false).notice(addedBack, served: true, epoch: 4)
        #expect(real == [])
        #expect(model == real)
        #expect(mutant != real)
        #expect(mutant.contains(.retire(session: "s1", removedAtEpoch: 4)))
        // Where the rule does not matter, all three agree.
        for epoch: UInt64 in [5, 6] {
            let current = Self.realNotice(addedBack, epoch: epoch)
            #expect(current == [.unserve(group: "g1", session: "s1"), .retire(session: "s1", removedAtEpoch: epoch)])
            #expect(RemovalModel(checksEpoch: true).notice(addedBack, served: true, epoch: epoch) == current)
            #expect(RemovalModel(checksEpoch: false).notice(addedBack, served: true, epoch: epoch) == current)
        }
    }

    // MARK: Settling: the linger on the primary

    enum SettleEvent {
        case update(DirectoryCopy, ReplicationTime)
        case tick(ReplicationTime)
    }

    /// The settle decision of one copy; `lingers` false is the mutant (a primary that settled at
    /// once after each election left its replicas without the final commit point, campaigning).
    struct SettleModel {
        var lingers: Bool
        var linger = DirectorySettings().settleLinger
        var copy: DirectoryCopy
        var commitMovedAt: ReplicationTime
        var settled = false

        init(lingers: Bool, first: DirectoryCopy, at now: ReplicationTime) {
            self.lingers = lingers
            self.copy = first
            self.commitMovedAt = now
        }

        func shouldSettle(now: ReplicationTime) -> Bool {
            guard copy.phase == .settled, copy.commitSeq == copy.lastSeq else { return false }
            guard copy.role == .primary else { return copy.role == .replica }
            guard copy.lag.values.allSatisfy({ $0 == 0 }) else { return false }
            return !lingers || now.nanoseconds >= commitMovedAt.nanoseconds + linger.nanoseconds
        }

        mutating func run(_ event: SettleEvent) -> [String] {
            let now: ReplicationTime
            switch event {
            case .update(let next, let at):
                if next.commitSeq != copy.commitSeq { commitMovedAt = at }
                copy = next
                now = at
            case .tick(let at):
                now = at
            }
            guard !settled, shouldSettle(now: now) else { return [] }
            settled = true
            return [copy.session]
        }
    }

    /// The sessions settled after each event, by the real core (the first event starts the copy).
    static func realSettles(_ first: DirectoryCopy, at start: ReplicationTime, _ events: [SettleEvent]) -> [[String]] {
        var directory = F.directory(F.view(F.alive(["a", "b", "c"])))
        var settles = [directory.started(first, now: start).settles]
        for event in events {
            switch event {
            case .update(let copy, let now): settles.append(directory.update(copy, now: now).settles)
            case .tick(let now): settles.append(directory.tick(now: now).settles)
            }
        }
        return settles
    }

    static func modelSettles(lingers: Bool, _ first: DirectoryCopy, at start: ReplicationTime, _ events: [SettleEvent])
        -> [[String]]
    {
        var model = SettleModel(lingers: lingers, first: first, at: start)
        return [[]] + events.map { model.run($0) }
    }

    @Test("settle: the mutant without the linger settles a primary the moment its end commits")
    func settleLingerMutant() {
        let live = F.primary(last: 5, commit: 5)
        let events: [SettleEvent] = [
            .update(F.primary(phase: .settled, last: 6, commit: 6), F.t(2_000)),
            .tick(F.t(2_500)),
            .tick(F.t(3_000)),
            .tick(F.t(3_500)),
        ]
        let real = Self.realSettles(live, at: F.t(0), events)
        let model = Self.modelSettles(lingers: true, live, at: F.t(0), events)
        let mutant = Self.modelSettles(lingers: false, live, at: F.t(0), events)
        #expect(real == [[], [], [], ["s1"], []])
        #expect(model == real)
        #expect(mutant != real)
        #expect(mutant == [[], ["s1"], [], [], []])
        // A replica settles at once either way: the rule is the primary's alone.
        let replica = F.copy(last: 5, commit: 5)
        let replicaEvents: [SettleEvent] = [.update(F.copy(phase: .settled, last: 6, commit: 6), F.t(2_000))]
        var directory = F.directory()
        _ = directory.adopted(replica, now: F.t(0))
        let realReplica: [[String]] = [[]] + [directory.update(F.copy(phase: .settled, last: 6, commit: 6), now: F.t(2_000)).settles]
        #expect(realReplica == [[], ["s1"]])
        #expect(Self.modelSettles(lingers: true, replica, at: F.t(0), replicaEvents) == realReplica)
        #expect(Self.modelSettles(lingers: false, replica, at: F.t(0), replicaEvents) == realReplica)
    }

    // MARK: Campaigns: settled copies never campaign

    /// The view-change decision over the copies held (each with whether it settled);
    /// `skipsSettled` false is the mutant (settled copies campaigned, forever, to learn nothing).
    struct CampaignModel {
        var skipsSettled: Bool

        func viewChanged(_ copies: [(copy: DirectoryCopy, settled: Bool)], lost: Set<String>) -> [DirectoryDirective] {
            copies.sorted { $0.copy.session < $1.copy.session }.compactMap { entry in
                if skipsSettled, entry.settled { return nil }
                guard entry.copy.role != .primary, let primary = entry.copy.primary, lost.contains(primary) else {
                    return nil
                }
                return .campaign(session: entry.copy.session)
            }
        }
    }

    @Test("campaign: the mutant that lets settled copies campaign campaigns for a settled copy")
    func settledCampaignMutant() {
        let settledCopy = F.copy("s1", phase: .settled, last: 8, commit: 8)
        let liveCopy = F.copy("s2", group: "g2", last: 3, commit: 3)
        var directory = F.directory(F.view(F.alive(["a", "b", "c"])))
        _ = directory.adopted(F.copy("s1", last: 7, commit: 7), now: F.t(0))
        _ = directory.adopted(liveCopy, now: F.t(0))
        _ = directory.update(settledCopy, now: F.t(10))
        #expect(directory.isSettled("s1"))
        let lostView = F.view([("a", .alive), ("b", .dead), ("c", .alive)])
        let real = directory.viewChanged(lostView, now: F.t(20))
        let held = [(copy: settledCopy, settled: true), (copy: liveCopy, settled: false)]
        let model = CampaignModel(skipsSettled: true).viewChanged(held, lost: lostView.lost)
        let mutant = CampaignModel(skipsSettled: false).viewChanged(held, lost: lostView.lost)
        #expect(real == [.campaign(session: "s2")])
        #expect(model == real)
        #expect(mutant != real)
        #expect(mutant == [.campaign(session: "s1"), .campaign(session: "s2")])
        // With the primary alive, all three agree: nobody campaigns.
        let aliveView = F.view(F.alive(["a", "b", "c"]))
        #expect(directory.viewChanged(aliveView, now: F.t(30)) == [])
        #expect(CampaignModel(skipsSettled: true).viewChanged(held, lost: aliveView.lost) == [])
        #expect(CampaignModel(skipsSettled: false).viewChanged(held, lost: aliveView.lost) == [])
    }
}
