import Synchronization

/// The node's lifecycle flags, read by `/readyz` and by the parts that stop taking work.
public final class NodeState: Sendable {
    private let listening = Atomic<Bool>(false)
    private let joined = Atomic<Bool>(false)
    private let draining = Atomic<Bool>(false)
    private let alone = Atomic<Bool>(false)

    public init() {}

    /// The port is bound.
    public func markListening() { listening.store(true, ordering: .releasing) }
    /// The node has joined its cluster (or is alone by configuration).
    public func markJoined(_ value: Bool = true) { joined.store(value, ordering: .releasing) }
    /// The node runs alone by configuration (no other seeds): its view of the cluster is never
    /// partial, so lookups need no settling period after it joined.
    public func markAlone() {
        alone.store(true, ordering: .releasing)
        markJoined()
    }

    public var isAlone: Bool { alone.load(ordering: .acquiring) }
    /// Draining: hand sessions away, take no new ones.
    public func markDraining() { draining.store(true, ordering: .releasing) }

    public var isDraining: Bool { draining.load(ordering: .acquiring) }

    public var isJoined: Bool { joined.load(ordering: .acquiring) }

    /// Ready to serve: listening, joined, not draining.
    public var isReady: Bool {
        listening.load(ordering: .acquiring) && joined.load(ordering: .acquiring) && !isDraining
    }

    /// Why the node is not ready, for `/readyz`'s body.
    public var notReadyReason: String? {
        if !listening.load(ordering: .acquiring) { return "not listening yet" }
        if isDraining { return "draining" }
        if !joined.load(ordering: .acquiring) { return "not joined to the cluster yet" }
        return nil
    }
}
