/// A consistent-hash ring: each node sits at `vnodesPerNode` pseudo-random points; a key belongs to
/// the first point clockwise from its hash.
///
/// Built only from the node ids (sorted first), the vnode count and XXH64, so every member that sees
/// the same membership builds the same ring, whatever order the members arrived in. Many points per
/// node even out arc lengths (the spread of a node's share shrinks like 1/√vnodes) and make a joining
/// node take a little from every other node instead of a lot from one neighbour.
public struct HashRing: Sendable {
    /// The members, sorted by id bytes; `owners` index into this.
    public let nodes: [ShardNode]
    public let vnodesPerNode: Int

    /// Vnode positions in ascending order, with the node index of each alongside. Two arrays of plain
    /// integers keep the binary search and the clockwise walk on contiguous memory.
    private let positions: [UInt64]
    private let owners: [Int32]
    /// Zone number of each node; nodes without a zone share one "no zone" number, so a ring with no
    /// zones at all behaves as one zone (plain clockwise order).
    private let zoneOfNode: [Int32]
    private let zoneCount: Int
    private let indexByID: [String: Int]

    public init(
        nodes: some Sequence<ShardNode>,
        vnodesPerNode: Int = PlacementSettings().vnodesPerNode
    )
        throws(PlacementError)
    {
        guard vnodesPerNode >= 1 else { throw .invalidVnodeCount(vnodesPerNode) }
        let sorted = nodes.sorted { utf8Precedes($0.id, $1.id) }
        for (previous, next) in zip(sorted, sorted.dropFirst()) where previous.id == next.id {
            throw .duplicateNodeID(next.id)
        }
        self.nodes = sorted
        self.vnodesPerNode = vnodesPerNode

        var zoneNumbers: [String?: Int32] = [:]
        // Numbered in sorted-node order, so the numbering itself is order-independent.
        self.zoneOfNode = sorted.map { node in
            if let number = zoneNumbers[node.zone] { return number }
            let number = Int32(zoneNumbers.count)
            zoneNumbers[node.zone] = number
            return number
        }
        self.zoneCount = zoneNumbers.count
        self.indexByID = Dictionary(uniqueKeysWithValues: sorted.enumerated().map { ($1.id, $0) })

        var points: [(position: UInt64, owner: Int32)] = []
        points.reserveCapacity(sorted.count * vnodesPerNode)
        for (index, node) in sorted.enumerated() {
            for vnode in 0..<vnodesPerNode {
                // The vnode number is the seed: one pass over the id bytes per point, no string building.
                points.append((StableHash.hash(node.id, seed: UInt64(vnode)), Int32(index)))
            }
        }
        // Ties (astronomically rare) go to the lower node index, i.e. the smaller id.
        points.sort { $0.position != $1.position ? $0.position < $1.position : $0.owner < $1.owner }
        self.positions = points.map(\.position)
        self.owners = points.map(\.owner)
    }

    /// The hash a key is placed by; exposed so callers and tests can reason about positions.
    @inline(__always)
    public static func position(of key: String) -> UInt64 {
        StableHash.hash(key)
    }

    /// The first node clockwise from `key`, or nil on an empty ring.
    public func owner(of key: String) -> String? {
        guard !positions.isEmpty else { return nil }
        return nodes[Int(owners[firstPoint(atOrAfter: Self.position(of: key))])].id
    }

    /// `count` distinct node ids for `key`, clockwise from its hash, spread over zones: nodes from
    /// zones not yet in the list come first until every zone is in it, then any node, in ring order.
    /// Asking for more nodes than exist returns them all.
    public func preferenceList(for key: String, count: Int) -> [String] {
        nodeIDs(from: Self.position(of: key), count: count, startingWith: nil)
    }

    /// Fraction of the hash space whose keys each node owns as primary; sums to 1.
    public func shares() -> [String: Double] {
        var share = [Double](repeating: 0, count: nodes.count)
        guard !positions.isEmpty else { return [:] }
        if nodes.count == 1 { return [nodes[0].id: 1] }
        // A key at hash h belongs to the first point p >= h, so point i owns (p[i-1], p[i]].
        var previous = positions[positions.count - 1]
        for (position, owner) in zip(positions, owners) {
            share[Int(owner)] += Double(position &- previous)
            previous = position
        }
        let whole = 18_446_744_073_709_551_616.0  // 2^64
        return Dictionary(uniqueKeysWithValues: zip(nodes, share).map { ($0.id, $1 / whole) })
    }

    // MARK: - Internals shared with bounded-load placement

    var isEmpty: Bool { positions.isEmpty }
    var pointCount: Int { positions.count }

    func index(of id: String) -> Int? { indexByID[id] }

    @inline(__always)
    func ownerIndex(atPoint point: Int) -> Int { Int(owners[point]) }

    /// Index of the first vnode at or after `hash`, wrapping to 0 past the top.
    func firstPoint(atOrAfter hash: UInt64) -> Int {
        var low = 0
        var high = positions.count
        while low < high {
            let middle = (low &+ high) >> 1
            if positions[middle] < hash { low = middle + 1 } else { high = middle }
        }
        return low == positions.count ? 0 : low
    }

    /// The zone-spread clockwise walk behind every preference list. `first`, when given, is placed
    /// first and counts its zone as used (bounded-load primaries that are not the ring's first pick).
    func nodeIndices(from hash: UInt64, count: Int, startingWith first: Int?) -> [Int] {
        walk(from: hash, count: count, startingWith: first).map { Int($0) }
    }

    func nodeIDs(from hash: UInt64, count: Int, startingWith first: Int?) -> [String] {
        walk(from: hash, count: count, startingWith: first).map { nodes[Int($0)].id }
    }

    /// Picked node indices in preference order.
    ///
    /// Lookups run for every request that names a group, so this is written as one flat loop: no
    /// closures or nested functions (whose captured state Swift may box on the heap), zones tracked
    /// in a bit mask when there are at most 64 of them, and the deferred list only allocated when a
    /// zone actually forces a skip.
    private func walk(from hash: UInt64, count: Int, startingWith first: Int?) -> [Int32] {
        let target = min(count, nodes.count)
        guard target > 0 else { return [] }
        var picked: [Int32] = []
        picked.reserveCapacity(target)
        // Nodes passed over because their zone was already used, in ring order; next in line once
        // every zone is in the list.
        var deferred: [Int32] = []
        var deferredNext = 0
        var usedMask: UInt64 = 0
        var usedZones: [Int32] = []  // only when there are more than 64 zones
        var usedZoneCount = 0
        let smallZones = zoneCount <= 64

        var point = firstPoint(atOrAfter: hash)
        var walked = 0
        var pending = first.map { Int32($0) }
        while picked.count < target {
            let node: Int32
            if let firstNode = pending {
                node = firstNode
                pending = nil
            } else {
                guard walked < positions.count else { break }
                node = owners[point]
                point = point &+ 1 == positions.count ? 0 : point &+ 1
                walked &+= 1
                if picked.contains(node) || deferred.contains(node) { continue }
            }
            if usedZoneCount == zoneCount {
                picked.append(node)
                continue
            }
            let zone = zoneOfNode[Int(node)]
            let used = smallZones ? usedMask & (1 &<< UInt64(zone)) != 0 : usedZones.contains(zone)
            if used {
                deferred.append(node)
                continue
            }
            picked.append(node)
            if smallZones { usedMask |= 1 &<< UInt64(zone) } else { usedZones.append(zone) }
            usedZoneCount &+= 1
            if usedZoneCount == zoneCount {
                while picked.count < target, deferredNext < deferred.count {
                    picked.append(deferred[deferredNext])
                    deferredNext &+= 1
                }
            }
        }
        // Only reachable if the walk saw every point; then every zone is used and this is a no-op,
        // kept so the count promise holds whatever the ring looks like.
        while picked.count < target, deferredNext < deferred.count {
            picked.append(deferred[deferredNext])
            deferredNext &+= 1
        }
        return picked
    }
}
