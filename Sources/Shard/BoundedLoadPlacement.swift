/// Primaries by consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam, 2018): each
/// node takes at most `capacity` = ceil((1+ε)·keys/nodes) keys; a key whose ring owner is full goes
/// to the next node clockwise with room.
///
/// A plain ring's busiest node carries the noise of its arc lengths and of the keys themselves
/// (about 1.13× the mean for 100k keys on 200 nodes even with perfect arcs); the cap removes that
/// tail. The price is state: the answer depends on the whole key set and the order keys are placed
/// in, so every node must place the same keys in the same order to agree. Keys are placed in order
/// of (hash, UTF-8 bytes), which does not depend on how the caller listed them.
public struct BoundedLoadPlacement: Sendable {
    public let ring: HashRing
    public let epsilon: Double
    /// Most primaries any node may take.
    public let capacity: Int
    /// Number of keys placed (after removing duplicates).
    public let keyCount: Int

    private let primaryByKey: [String: Int32]
    private let loadByNode: [Int]

    public init(
        ring: HashRing,
        keys: some Sequence<String>,
        epsilon: Double = PlacementSettings().epsilon
    )
        throws(PlacementError)
    {
        guard epsilon.isFinite, epsilon >= 0 else { throw .invalidEpsilon(epsilon) }
        self.ring = ring
        self.epsilon = epsilon

        var ordered = Array(Set(keys)).map { (hash: HashRing.position(of: $0), key: $0) }
        ordered.sort { $0.hash != $1.hash ? $0.hash < $1.hash : utf8Precedes($0.key, $1.key) }
        self.keyCount = ordered.count

        let nodeCount = ring.nodes.count
        guard nodeCount > 0 else {
            self.capacity = 0
            self.primaryByKey = [:]
            self.loadByNode = []
            return
        }
        let capacity = Self.capacity(keys: ordered.count, nodes: nodeCount, epsilon: epsilon)
        self.capacity = capacity

        var load = [Int](repeating: 0, count: nodeCount)
        var primary: [String: Int32] = [:]
        primary.reserveCapacity(ordered.count)
        let points = ring.pointCount
        for (hash, key) in ordered {
            // capacity·nodes >= keys, so some node always has room and this walk ends.
            var point = ring.firstPoint(atOrAfter: hash)
            while load[ring.ownerIndex(atPoint: point)] >= capacity {
                point = point + 1 == points ? 0 : point + 1
            }
            let node = ring.ownerIndex(atPoint: point)
            load[node] += 1
            primary[key] = Int32(node)
        }
        self.primaryByKey = primary
        self.loadByNode = load
    }

    /// ceil((1+ε)·keys/nodes), never below ceil(keys/nodes) so everything fits.
    ///
    /// The product is nudged down by a relative 1e-12 before rounding up, so that e.g. 1.1 × 500
    /// (which is 550.000…04 in binary) gives 550 rather than 551; exact products are what the
    /// balance promise (max/mean ≤ 1+ε when the mean is whole) is stated in.
    public static func capacity(keys: Int, nodes: Int, epsilon: Double) -> Int {
        guard nodes > 0 else { return 0 }
        let floor = (keys + nodes - 1) / nodes
        let product = (1 + epsilon) * Double(keys) / Double(nodes)
        let nudged = product * (1 - 1e-12)
        // Rounded up by hand: `rounded(.up)` calls libm's `ceil`, which this pure module does not link.
        let whole = Int(nudged)
        return max(floor, Double(whole) < nudged ? whole + 1 : whole)
    }

    /// The primary of a placed key. A key outside the placed set gets the plain ring owner: it was
    /// not counted against any capacity, so rebuild with it to have it bounded.
    public func primary(of key: String) -> String? {
        if let node = primaryByKey[key] { return ring.nodes[Int(node)].id }
        return ring.owner(of: key)
    }

    /// The bounded primary first, then the ring's zone-spread clockwise walk for the rest, counting
    /// the primary's zone as used. When the primary is the ring owner (most keys) this is exactly
    /// the ring's list, so replicas move as little as the ring's do.
    public func preferenceList(for key: String, count: Int) -> [String] {
        guard let node = primaryByKey[key] else { return ring.preferenceList(for: key, count: count) }
        return ring.nodeIDs(from: HashRing.position(of: key), count: count, startingWith: Int(node))
    }

    /// Primaries per node id (every node listed, zero included).
    public func loads() -> [String: Int] {
        Dictionary(uniqueKeysWithValues: zip(ring.nodes, loadByNode).map { ($0.id, $1) })
    }

    /// Fraction of the placed keys each node holds as primary, for `/admin/v1/ring`.
    public func shares() -> [String: Double] {
        guard keyCount > 0 else { return ring.shares() }
        return loads().mapValues { Double($0) / Double(keyCount) }
    }
}
