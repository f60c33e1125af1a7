/// Tunables of the membership protocol, LAN defaults for probes over a persistent HTTP/2 connection.
///
/// Shaped after memberlist's `DefaultLANConfig` but faster: an established HTTP/2 stream answers in
/// well under a millisecond on a LAN, so probes can be 3x more frequent than memberlist's 1 s.
public struct GossipSettings: Sendable, Equatable {
    /// Time between two probes of this node (one member per interval). Default 300 ms: a LAN round
    /// trip is ~1 ms, so this costs little and bounds how long a failure goes unnoticed. Scaled by
    /// `1 + localHealth` (Lifeguard) when this node itself is struggling.
    public var probeInterval: GossipDuration = .milliseconds(300)

    /// How long to wait for a direct ack before asking `indirectProbes` helpers. Default 150 ms: half
    /// the interval, leaving the other half for the indirect path. Scaled by `1 + localHealth`.
    public var probeTimeout: GossipDuration = .milliseconds(150)

    /// Number of helpers (k) asked to probe a member that did not answer directly. Default 3, as in
    /// SWIM and memberlist: enough paths that one lossy link does not cause a suspicion.
    public var indirectProbes: Int = 3

    /// λ: every piggybacked update is sent about `λ·ceil(log10(n+1))` times. Default 4 (memberlist's
    /// RetransmitMult): high probability of reaching every member even with loss.
    public var retransmitMultiplier: Int = 4

    /// Minimum suspicion timeout = `suspicionMultiplier · max(1, log10(n)) · probeInterval`. Default 3:
    /// 0.9 s at n ≤ 10, 2.1 s at n = 200. memberlist uses 4 with a 1 s probe interval; with 4 here
    /// the median kill-to-dead time at 10 real nodes was 2.15 s (ops/BENCHMARKS.md), above the 2 s
    /// target, and 3 still gave no false death under 10% loss (simulation) or CPU starvation
    /// (ops/bench/gossip.py false-positives), because an unconfirmed suspicion still waits the
    /// 6x maximum before it can expire.
    public var suspicionMultiplier: Double = 3

    /// Maximum suspicion timeout = this · minimum. Default 6 (memberlist): an unconfirmed suspicion
    /// waits this long, giving the suspect time to hear of it and refute; each independent
    /// confirmation shrinks the timeout toward the minimum (Lifeguard).
    public var suspicionMaxTimeoutMultiplier: Double = 6

    /// Independent confirmations expected before the suspicion timeout reaches its minimum. Default 3
    /// (k); dropped to 0 when fewer than k+2 members exist, since no more confirmations can come.
    public var suspicionConfirmations: Int = 3

    /// Lifeguard's local-health ceiling: health ranges over `0..<awarenessMax`, and probe interval and
    /// timeout are multiplied by `1 + health`, so a node that misses acks (likely its own fault:
    /// overload, GC pause, bad link) slows down up to 8x instead of accusing healthy peers. Default 8.
    public var awarenessMax: Int = 8

    /// Time between two gossip fan-outs while an urgent update (a join, suspicion, death, leave or
    /// refutation) is queued. Default 200 ms, as memberlist's GossipInterval: probes alone carry
    /// news to one member per probe interval, too slow for a refutation to beat the shortest
    /// suspicion timeout everywhere in a large cluster under loss.
    public var gossipInterval: GossipDuration = .milliseconds(200)

    /// Members each fan-out goes to. Default 3 (memberlist's GossipNodes); 0 turns it off.
    public var gossipFanout: Int = 3

    /// Time between full state syncs with one random member. Default 5 s: repairs anything gossip
    /// missed and, with `reconnectInterval`, merges a healed partition. Not stretched with the
    /// cluster's size as memberlist's is: at 200 nodes under 5% loss, syncing every 20 s let a
    /// node that heard a suspicion after its refutation had finished spreading declare a live
    /// member dead (ops/BENCHMARKS.md "Gossip at 1,000 nodes"); the sync is that node's rescue.
    public var pushPullInterval: GossipDuration = .seconds(5)

    /// Time between re-dials (a push-pull) of one dead member and, when no live member is known, of
    /// the seeds. Default 2 s: a healed partition merges within about this long (memberlist#222 and
    /// serf#605 are the failures this prevents: both halves having declared each other dead).
    public var reconnectInterval: GossipDuration = .seconds(2)

    /// How long a dead member is kept (and re-dialed) before being forgotten. Default 1 h: a
    /// partition shorter than this heals by itself; afterwards only the seeds bring it back.
    public var deadReclaimTime: GossipDuration = .seconds(3600)

    /// How long a member that left is kept before being forgotten. Default 60 s: long enough for the
    /// `left` status to reach everyone, so it is not resurrected by stale gossip.
    public var leftReclaimTime: GossipDuration = .seconds(60)

    /// Most piggybacked updates per message. Default 16: messages ride on HTTP/2, not a 1400-byte
    /// UDP packet, so we afford more than memberlist, which speeds up joins of many nodes.
    public var maxPiggyback: Int = 16

    /// Least time between two publications of this node's load (each raises its incarnation).
    /// Default 1 s: placement sees load within about a second without flooding gossip.
    public var loadPublishInterval: GossipDuration = .seconds(1)

    public init() {}

    /// Number of transmissions of each piggybacked update in a cluster of `clusterSize` members.
    public func retransmitLimit(clusterSize: Int) -> Int {
        retransmitMultiplier * Int(Double(clusterSize + 1).log10Ceiling)
    }

    /// Lifeguard's shortest suspicion timeout, reached after `suspicionConfirmations` confirmations.
    public func minSuspicionTimeout(clusterSize: Int) -> GossipDuration {
        probeInterval * (suspicionMultiplier * max(1, Double(max(clusterSize, 1)).log10Value))
    }

    /// Lifeguard's initial (unconfirmed) suspicion timeout.
    public func maxSuspicionTimeout(clusterSize: Int) -> GossipDuration {
        minSuspicionTimeout(clusterSize: clusterSize) * suspicionMaxTimeoutMultiplier
    }

    /// The promised failure-detection bound, in seconds, for a cluster of `clusterSize` members:
    /// the time from killing a node until every alive member lists it as dead.
    ///
    /// It is the sum of
    /// 1. the first failed probe: the victim is probed by someone within `min(2(n-1), 10)` probe
    ///    intervals (each member probes everyone once per shuffled round, and n-1 members probe
    ///    concurrently, so missing it for 10 intervals has probability about e^-10), plus the
    ///    interval the failed probe itself takes;
    /// 2. the unconfirmed (maximum) suspicion timeout, in case no confirmation arrives;
    /// 3. dissemination of the suspicion (every member then runs its own timer) or of the dead
    ///    verdict: `3·ceil(log2(n+1))` probe intervals of piggybacking.
    ///
    /// It assumes the survivors are healthy (local health 0) and their links work; under loss,
    /// Lifeguard deliberately slows probing (up to `awarenessMax`x) and the bound stretches.
    public func worstCaseDetection(clusterSize n: Int) -> Double {
        let firstProbe = Double(min(2 * max(n - 1, 1), 10) + 1) * probeInterval.seconds
        let suspicion = maxSuspicionTimeout(clusterSize: n).seconds
        let dissemination = Double(3 * Int(Double(n + 1).log2Ceiling)) * probeInterval.seconds
        return firstProbe + suspicion + dissemination
    }

    /// `worstCaseDetection(clusterSize:)` for the largest cluster these defaults are meant for (200).
    public var worstCaseDetection: Double { worstCaseDetection(clusterSize: 200) }
}

extension Double {
    /// log10 without Foundation, good to ~1e-12 (enough for timeouts).
    var log10Value: Double { naturalLog / 2.302_585_092_994_046 }

    /// Natural logarithm by range reduction to [1, 2) and the atanh series.
    var naturalLog: Double {
        guard self > 0, isFinite else { return self == 0 ? -.infinity : .nan }
        var x = significand  // in [1, 2)
        var exponent = Double(self.exponent)
        if x > 1.414_213_562_373_095 {
            x /= 2
            exponent += 1
        }
        let y = (x - 1) / (x + 1)
        let y2 = y * y
        var term = y
        var sum = 0.0
        var k = 1.0
        while k < 60 {
            sum += term / k
            term *= y2
            k += 2
        }
        return 2 * sum + exponent * 0.693_147_180_559_945_3
    }

    var log10Ceiling: Double { Swift.max(1, (log10Value - 1e-9).rounded(.up)) }
    var log2Ceiling: Double { Swift.max(1, (naturalLog / 0.693_147_180_559_945_3 - 1e-9).rounded(.up)) }
}
