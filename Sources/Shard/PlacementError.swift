/// Why a placement could not be built from the inputs given.
public enum PlacementError: Error, Hashable, Sendable {
    /// Two nodes share an id; every node must build the same ring, and with two zones for one id
    /// there is no order-independent way to pick one.
    case duplicateNodeID(String)
    /// `vnodesPerNode` below 1 leaves a node with no place on the ring.
    case invalidVnodeCount(Int)
    /// A negative or non-finite epsilon gives no capacity at all (or an unbounded one).
    case invalidEpsilon(Double)
}
