/// A Vivaldi network coordinate (Dabek et al.), with Serf's height and adjustment extensions.
///
/// Distances are seconds of round-trip time. The coordinate is an estimate for ranking and
/// placement, never evidence of reachability.
public struct VivaldiCoordinate: Codable, Sendable, Equatable {
    /// Position in the Euclidean part of the space (Serf uses 8 dimensions).
    public var vec: [Double]
    /// Distance from the node to the "core" of the network (its access link), in seconds.
    public var height: Double
    /// Confidence: 0 is certain, `VivaldiCoordinate.errorMax` is no idea.
    public var error: Double
    /// A per-node offset learned from the residuals of recent samples (Serf's adjustment term).
    public var adjustment: Double

    public static let dimensions = 8
    /// Serf's constants.
    static let errorMax = 1.5
    static let ce = 0.25
    static let cc = 0.25
    static let heightMin = 10.0e-6
    static let gravityRho = 150.0
    static let zeroThreshold = 1.0e-6

    /// The origin with maximal error: where every node starts.
    public init() {
        self.vec = Array(repeating: 0, count: Self.dimensions)
        self.height = Self.heightMin
        self.error = Self.errorMax
        self.adjustment = 0
    }

    public init(vec: [Double], height: Double, error: Double, adjustment: Double) {
        self.vec = vec
        self.height = height
        self.error = error
        self.adjustment = adjustment
    }

    /// Finite, of the right dimension, and not absurd; anything else from the wire is ignored.
    public var isValid: Bool {
        vec.count == Self.dimensions && vec.allSatisfy { $0.isFinite && abs($0) < 1e6 } && height.isFinite
            && height >= 0 && error.isFinite && error >= 0 && adjustment.isFinite && abs(adjustment) < 1e6
    }

    /// Estimated round-trip time to `other`, in seconds (Serf's `DistanceTo`).
    public func distance(to other: VivaldiCoordinate) -> Double {
        let raw = rawDistance(to: other)
        let adjusted = raw + adjustment + other.adjustment
        return adjusted > 0 ? adjusted : raw
    }

    func rawDistance(to other: VivaldiCoordinate) -> Double {
        var sum = 0.0
        for i in 0..<min(vec.count, other.vec.count) {
            let d = vec[i] - other.vec[i]
            sum += d * d
        }
        return sum.squareRoot() + height + other.height
    }

    /// Moves this coordinate after measuring `rtt` seconds to a node at `remote` (Serf's
    /// `updateVivaldi` followed by `updateGravity`). The adjustment term needs a window of samples
    /// and is maintained by the instance.
    public mutating func update(rtt: Double, remote: VivaldiCoordinate) {
        guard remote.isValid, rtt.isFinite, rtt >= 0 else { return }
        let rtt = max(rtt, Self.zeroThreshold)
        let dist = distance(to: remote)
        let wrongness = abs(dist - rtt) / rtt
        let totalError = max(error + remote.error, Self.zeroThreshold)
        let weight = error / totalError
        error = min(Self.ce * weight * wrongness + error * (1 - Self.ce * weight), Self.errorMax)
        let force = Self.cc * weight * (rtt - dist)
        applyForce(force, from: remote, rtt: rtt)
        // Gravity toward the origin keeps the whole system from drifting away.
        let origin = VivaldiCoordinate()
        let fromOrigin = origin.distance(to: self) / Self.gravityRho
        applyForce(-(fromOrigin * fromOrigin), from: origin, rtt: rtt)
        if !isValid { self = VivaldiCoordinate() }
    }

    private mutating func applyForce(_ force: Double, from other: VivaldiCoordinate, rtt: Double) {
        let (unit, magnitude) = unitVector(awayFrom: other, salt: rtt)
        for i in 0..<vec.count {
            vec[i] += unit[i] * force
        }
        if magnitude > Self.zeroThreshold {
            height = max((height + other.height) * force / magnitude + height, Self.heightMin)
        }
    }

    /// Unit vector from `other` toward self. When the two coincide (every node starts at the
    /// origin) Serf picks a random direction; we derive a pseudo-random one from the inputs so the
    /// update stays a pure function.
    private func unitVector(awayFrom other: VivaldiCoordinate, salt: Double) -> ([Double], Double) {
        var diff = Array(repeating: 0.0, count: vec.count)
        var sum = 0.0
        for i in 0..<vec.count {
            diff[i] = vec[i] - (i < other.vec.count ? other.vec[i] : 0)
            sum += diff[i] * diff[i]
        }
        let magnitude = sum.squareRoot()
        if magnitude > Self.zeroThreshold {
            return (diff.map { $0 / magnitude }, magnitude)
        }
        var seed = salt.bitPattern ^ error.bitPattern &* 31 ^ other.error.bitPattern &* 17
        for value in vec + other.vec {
            seed = seed &* 0x100_0000_01B3 ^ value.bitPattern
        }
        var random = GossipRandom(seed: seed)
        let direction = (0..<vec.count).map { _ in random.nextUnit() - 0.5 }
        let length = direction.reduce(0) { $0 + $1 * $1 }.squareRoot()
        if length > Self.zeroThreshold {
            return (direction.map { $0 / length }, 0)
        }
        var fallback = Array(repeating: 0.0, count: vec.count)
        fallback[0] = 1
        return (fallback, 0)
    }
}

/// Serf's Vivaldi client: this node's coordinate plus the per-peer latency filter and the window
/// of residuals that produces the adjustment term.
struct VivaldiClient: Sendable {
    private(set) var coordinate = VivaldiCoordinate()
    private var adjustmentSamples = Array(repeating: 0.0, count: 20)
    private var adjustmentIndex = 0
    /// Last three RTT samples per peer; the median rejects one-off spikes (Serf's LatencyFilterSize).
    private var latencySamples: [MemberID: [Double]] = [:]

    mutating func observe(rtt: Double, from peer: MemberID, remote: VivaldiCoordinate) {
        guard remote.isValid, rtt.isFinite, rtt >= 0, rtt < 10 else { return }
        var samples = latencySamples[peer, default: []]
        samples.append(rtt)
        if samples.count > 3 { samples.removeFirst(samples.count - 3) }
        latencySamples[peer] = samples
        let filtered = samples.sorted()[samples.count / 2]

        coordinate.update(rtt: filtered, remote: remote)
        let residual = filtered - coordinate.rawDistance(to: remote)
        adjustmentSamples[adjustmentIndex] = residual
        adjustmentIndex = (adjustmentIndex + 1) % adjustmentSamples.count
        coordinate.adjustment = adjustmentSamples.reduce(0, +) / (2 * Double(adjustmentSamples.count))
        if !coordinate.isValid { coordinate = VivaldiCoordinate() }
    }

    mutating func forget(_ peer: MemberID) {
        latencySamples[peer] = nil
    }
}
