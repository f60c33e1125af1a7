import Shard
import Testing

/// `SessionDirectory.replicaSetChange`: the one change a primary makes to its replica set now.
@Suite("Directory: replica-set maintenance")
struct DirectoryReplicaSetTests {
    typealias F = DirFix

    static func change(
        _ copy: DirectoryCopy,
        _ view: DirectoryView,
        replicas: Int = 3
    ) -> DirectoryDirective? {
        var settings = DirectorySettings()
        settings.replicas = replicas
        return SessionDirectory.replicaSetChange(copy, me: "a", view: view, settings: settings)
    }

    /// The first group whose preference list (over `view`) satisfies `where`.
    static func group(_ view: DirectoryView, where accept: ([String]) -> Bool) -> (String, [String])? {
        for group in F.groups {
            let preference = view.preferenceList(for: group)
            if accept(preference) { return (group, preference) }
        }
        return nil
    }

    static let fiveAlive = F.view(F.alive(F.five))

    // MARK: Rule 1

    @Test("a dead, left or draining member is removed as lost", arguments: ["dead", "left", "draining"])
    func lostMemberRemoved(how: String) {
        var states = F.alive(F.five)
        var draining: Set<String> = []
        switch how {
        case "dead": states[1].1 = .dead
        case "left": states[1].1 = .left
        default: draining = ["b"]
        }
        let view = F.view(states, draining: draining)
        for group in F.groups.prefix(20) {
            let copy = F.primary(group: group, members: ["a", "b", "c"])
            #expect(Self.change(copy, view) == .removeReplica(session: "s1", node: "b", reason: .lost), "\(group)")
        }
    }

    @Test("a suspect member keeps its place (five nodes)")
    func suspectMemberKept() {
        let view = F.view([("a", .alive), ("b", .suspect), ("c", .alive), ("d", .alive), ("e", .alive)])
        for group in F.groups {
            let copy = F.primary(group: group, members: ["a", "b", "c"])
            let change = Self.change(copy, view)
            if case .removeReplica = change { Issue.record("\(group): \(String(describing: change))") }
        }
    }

    @Test("a suspect member keeps its place and nothing moves (three nodes, replicas 3)")
    func suspectMemberKeptSmallCluster() {
        let view = F.view([("a", .alive), ("b", .suspect), ("c", .alive)])
        for group in F.groups {
            let copy = F.primary(group: group, members: ["a", "b", "c"])
            #expect(Self.change(copy, view) == nil, "\(group)")
        }
    }

    // MARK: Rules 2 and 3, and the order of the first three

    @Test("a stalled learner is removed as stalled")
    func stalledLearnerRemoved() {
        let copy = F.primary(members: ["a", "b", "c"], learners: ["d"], stalled: ["d"])
        #expect(Self.change(copy, Self.fiveAlive) == .removeReplica(session: "s1", node: "d", reason: .stalled))
    }

    @Test("a learner whose node is gone is removed as a stale learner", arguments: [DirFix.State.dead, .left])
    func staleLearnerRemoved(state: DirFix.State) {
        let view = F.view([("a", .alive), ("b", .alive), ("c", .alive), ("d", state), ("e", .alive)])
        let copy = F.primary(members: ["a", "b"], learners: ["d"])
        #expect(Self.change(copy, view) == .removeReplica(session: "s1", node: "d", reason: .staleLearner))
        // A suspect learner stays.
        let suspect = F.view([("a", .alive), ("b", .alive), ("c", .alive), ("d", .suspect), ("e", .alive)])
        #expect(Self.change(copy, suspect) == nil)
    }

    @Test("rules in order: lost member, then stalled learner, then stale learner")
    func firstRulesInOrder() {
        let all = F.view([("a", .alive), ("b", .dead), ("c", .alive), ("d", .dead), ("e", .alive)])
        let copy = F.primary(members: ["a", "b", "c"], learners: ["d", "e"], stalled: ["e"])
        #expect(Self.change(copy, all) == .removeReplica(session: "s1", node: "b", reason: .lost))
        let withoutLost = F.primary(members: ["a", "c"], learners: ["d", "e"], stalled: ["e"])
        #expect(Self.change(withoutLost, all) == .removeReplica(session: "s1", node: "e", reason: .stalled))
        let withoutStalled = F.primary(members: ["a", "c"], learners: ["d", "e"])
        #expect(Self.change(withoutStalled, all) == .removeReplica(session: "s1", node: "d", reason: .staleLearner))
    }

    // MARK: Rule 4

    @Test("with more members than the target, the worst placed outside the ideal set goes once every other lag is 0")
    func rebalanceRemovesWorst() throws {
        let (group, preference) = try #require(Self.group(Self.fiveAlive) { $0.prefix(3).contains("a") })
        let ideal = Array(preference.prefix(3))
        let worst = preference[4]
        let members = ideal + [worst]
        let others = ideal.filter { $0 != "a" }
        let copy = F.primary(group: group, members: members)
        #expect(Self.change(copy, Self.fiveAlive) == .removeReplica(session: "s1", node: worst, reason: .rebalance))
        // The one leaving may lag; no other member may.
        var worstLags = copy
        worstLags.lag[worst] = 9
        #expect(Self.change(worstLags, Self.fiveAlive) == .removeReplica(session: "s1", node: worst, reason: .rebalance))
        for lagging in others {
            var oneLags = copy
            oneLags.lag[lagging] = 1
            #expect(Self.change(oneLags, Self.fiveAlive) == nil, "\(lagging) lags")
        }
        // A lost member goes first (rule 1 before rule 4).
        let lost = F.view(F.five.map { ($0, $0 == others[0] ? DirFix.State.dead : .alive) })
        #expect(Self.change(copy, lost) == .removeReplica(session: "s1", node: others[0], reason: .lost))
    }

    @Test("the primary itself is never removed, however badly placed")
    func primaryNeverRemoved() throws {
        let (group, preference) = try #require(Self.group(Self.fiveAlive) { $0.last == "a" })
        let copy = F.primary(group: group, members: Array(preference.prefix(3)) + ["a"])
        // One over the target with only the primary outside the ideal set: the worst-placed
        // other member goes (the set must not stay one over for good), never the primary.
        #expect(
            Self.change(copy, Self.fiveAlive)
                == .removeReplica(session: "s1", node: preference[2], reason: .rebalance)
        )
        // Nor when it drains, nor across every group and set.
        let draining = F.view(F.alive(F.five), draining: ["a"])
        for group in F.groups {
            let preference = draining.preferenceList(for: group)
            for members in [["a", "b", "c"], ["a"] + preference.filter { $0 != "a" }, ["a", "b", "c", "d"]] {
                for view in [Self.fiveAlive, draining] {
                    let change = Self.change(F.primary(group: group, members: members), view)
                    #expect(change != .removeReplica(session: "s1", node: "a", reason: .lost))
                    #expect(change != .removeReplica(session: "s1", node: "a", reason: .rebalance))
                }
            }
        }
    }

    // MARK: Rule 5

    @Test("a full set holding a badly placed member gets the best-placed alive node")
    func fullSetAddsBetter() throws {
        let (group, preference) = try #require(Self.group(Self.fiveAlive) { $0.prefix(3).contains("a") })
        let ideal = Array(preference.prefix(3))
        let missing = ideal.last { $0 != "a" }!
        let badly = preference[4]
        let members = ideal.filter { $0 != missing } + [badly]
        let copy = F.primary(group: group, members: members)
        #expect(Self.change(copy, Self.fiveAlive) == .addReplica(session: "s1", node: missing))
        // Not while a learner is being caught up (one change at a time).
        let learning = F.primary(group: group, members: members, learners: [missing])
        #expect(Self.change(learning, Self.fiveAlive) == nil)
        // Not a suspect node: newcomers must be alive.
        let suspect = F.view(F.five.map { ($0, $0 == missing ? DirFix.State.suspect : .alive) })
        #expect(Self.change(copy, suspect) == nil)
        // A well-placed full set is left alone.
        #expect(Self.change(F.primary(group: group, members: ideal), Self.fiveAlive) == nil)
    }

    // MARK: Rule 6

    @Test("too few members: the best-placed alive candidate joins, one at a time")
    func tooFewAdds() {
        for group in F.groups.prefix(50) {
            let others = Self.fiveAlive.preferenceList(for: group).filter { $0 != "a" }
            #expect(
                Self.change(F.primary(group: group, members: ["a"]), Self.fiveAlive)
                    == .addReplica(session: "s1", node: others[0])
            )
            #expect(
                Self.change(F.primary(group: group, members: ["a"], learners: [others[0]]), Self.fiveAlive)
                    == .addReplica(session: "s1", node: others[1])
            )
            #expect(
                Self.change(F.primary(group: group, members: ["a", others[0]]), Self.fiveAlive)
                    == .addReplica(session: "s1", node: others[1])
            )
            #expect(Self.change(F.primary(group: group, members: ["a", others[0]], learners: [others[1]]), Self.fiveAlive) == nil)
        }
    }

    @Test("a newcomer is never dead, left, suspect or draining")
    func newcomerAliveAndNotDraining() {
        let view = F.view(
            [("a", .alive), ("b", .dead), ("c", .alive), ("d", .suspect), ("e", .alive), ("f", .left), ("g", .alive)],
            draining: ["c"]
        )
        for group in F.groups {
            let expected = view.preferenceList(for: group).first { $0 == "e" || $0 == "g" }!
            let change = Self.change(F.primary(group: group, members: ["a"]), view)
            #expect(change == .addReplica(session: "s1", node: expected), "\(group)")
            // Every alive non-draining node already in: nothing more to add.
            #expect(Self.change(F.primary(group: group, members: ["a", "e", "g"]), view) == nil, "\(group)")
        }
    }

    // MARK: Scope and target

    @Test("nothing for a replica, a candidate or a copy that is not live")
    func onlyLivePrimaries() {
        let view = F.view([("a", .alive), ("b", .dead), ("c", .alive), ("d", .alive), ("e", .alive)])
        #expect(Self.change(F.copy(members: ["a", "b", "c"]), view) == nil)
        #expect(Self.change(F.copy(role: .candidate, members: ["a", "b", "c"]), view) == nil)
        for phase in [CopyPhase.starting, .ending, .settled] {
            #expect(Self.change(F.primary(phase: phase, members: ["a", "b", "c"]), view) == nil, "\(phase)")
            #expect(Self.change(F.primary(phase: phase, members: ["a"]), view) == nil, "\(phase)")
        }
    }

    @Test("the target shrinks to the nodes alive: one alive, target one; two alive, target two")
    func targetShrinks() throws {
        let one = F.view([("a", .alive), ("b", .left), ("c", .dead), ("d", .dead)])
        #expect(Self.change(F.primary(members: ["a"]), one) == nil)
        #expect(Self.change(F.primary(members: ["a", "c"]), one) == .removeReplica(session: "s1", node: "c", reason: .lost))
        let two = F.view(F.alive(["a", "b"]))
        #expect(Self.change(F.primary(members: ["a"]), two) == .addReplica(session: "s1", node: "b"))
        #expect(Self.change(F.primary(members: ["a", "b"]), two) == nil)
        // With five alive and five replicas wanted, the set grows to five.
        #expect(Self.change(F.primary(members: ["a", "b", "c"]), Self.fiveAlive, replicas: 5) != nil)
        #expect(Self.change(F.primary(members: F.five), Self.fiveAlive, replicas: 5) == nil)
        // Replicas 1: a lone primary is a whole set, and a surplus member goes once caught up
        // (in a group placed on this node first).
        let (group, preference) = try #require(Self.group(Self.fiveAlive) { $0.first == "a" })
        #expect(Self.change(F.primary(group: group, members: ["a"]), Self.fiveAlive, replicas: 1) == nil)
        #expect(
            Self.change(F.primary(group: group, members: ["a", preference[1]]), Self.fiveAlive, replicas: 1)
                == .removeReplica(session: "s1", node: preference[1], reason: .rebalance)
        )
    }
}
