import Shard
import Testing

/// Balance and movement with 100k groups at the default 512 vnodes, a node added and one removed.
///
/// The figures are deterministic (fixed ids and groups), so the bounds below are the measured
/// values plus a little headroom, chosen against what statistics allow for *any* naming: a ring
/// node's arc share varies by about 1/√512 = 4.4%, and 100k keys add Poisson noise on top (mean 500
/// per node at 200 nodes gives max/mean ≈ 1.09–1.13 for any stateless hash; rendezvous measured
/// 1.088). Release build: `swift test -c release --filter BalanceTests`.
@Suite struct BalanceTests {
    /// Measured (release == debug, the figures do not depend on the build), ×1000:
    /// ring         base  add: max/mean moved/ideal slots/ideal  remove: max/mean moved/ideal slots/ideal
    /// 10 nodes     1100       1076     1050        990                  1085     987         1028
    /// 50 nodes     1098       1078     1008        1027                 1086     966         1008
    /// 200 nodes    1202       1204     1025        947                  1198     1080        1017
    /// bounded ε=0.1: identical at 10 and 50 nodes (no node reaches the cap), at 200 nodes
    ///              1100       1101     1055        947                  1100     1128        1017
    struct Case: Sendable, CustomTestStringConvertible {
        var nodes: Int
        var mode: PlacementSettings.Mode
        /// Highest primary max/mean allowed in the base, grown and shrunk memberships.
        var maxOverMean: Double
        /// Highest primaries-moved / ideal allowed (ideal: 1/(n+1) on add, 1/n on remove).
        var moved: Double
        var testDescription: String { "\(nodes) nodes, \(mode)" }
    }

    static let cases: [Case] = [
        // A ring's balance is bounded by its arc noise: 6 rings averaged 1.08 (10 nodes), 1.10 (50),
        // 1.18 (200), worst 1.13 / 1.15 / 1.20; movement is the newcomer's (or leaver's) arc share.
        Case(nodes: 10, mode: .ring, maxOverMean: 1.12, moved: 1.10),
        Case(nodes: 50, mode: .ring, maxOverMean: 1.12, moved: 1.10),
        Case(nodes: 200, mode: .ring, maxOverMean: 1.22, moved: 1.10),
        // Bounded loads cap every node at ceil(1.1·mean): max/mean ≤ 1.10 whenever the mean is whole
        // (10, 50, 200 nodes) and ≤ 548/497.5 = 1.1015 at 201. The cascade of capped nodes moves a
        // few more primaries than the ring: measured 1.13× ideal at worst, bound 1.15.
        Case(nodes: 10, mode: .boundedLoad, maxOverMean: 1.10, moved: 1.15),
        Case(nodes: 50, mode: .boundedLoad, maxOverMean: 1.10, moved: 1.15),
        Case(nodes: 200, mode: .boundedLoad, maxOverMean: 1.10, moved: 1.15),
    ]

    static let groups = makeGroups(100_000)

    @Test(arguments: cases)
    func balanceAndMovement(_ test: Case) throws {
        let mode: MeasuredMode = test.mode == .ring ? .ring : .boundedLoad
        let figures = try measureScenario(nodeCount: test.nodes, groups: Self.groups, mode: mode, vnodes: 512)
        print(
            "balance \(test.testDescription): base \(figures.base) | add \(figures.added) | remove \(figures.removed)"
        )

        #expect(figures.base <= test.maxOverMean + 1e-9)
        for (change, result, nodesAfter) in [
            ("add", figures.added, test.nodes + 1), ("remove", figures.removed, test.nodes - 1),
        ] {
            let bound =
                test.mode == .ring
                ? test.maxOverMean
                : Double(BoundedLoadPlacement.capacity(keys: Self.groups.count, nodes: nodesAfter, epsilon: 0.1))
                    / (Double(Self.groups.count) / Double(nodesAfter))
            #expect(result.maxOverMean <= bound + 1e-9, "\(change)")
            #expect(result.movedOverIdeal <= test.moved, "\(change)")
            // Moving much less than ideal would mean the newcomer takes too little (or the leaver
            // held too little), i.e. poor balance elsewhere.
            #expect(result.movedOverIdeal >= 0.9, "\(change)")
            // Replicas follow the ring in both modes: at most 1.03× ideal measured, bound 1.10.
            #expect(result.slotsOverIdeal <= 1.10, "\(change)")
        }
    }
}
