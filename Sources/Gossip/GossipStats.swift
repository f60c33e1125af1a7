/// Counters for the shell's metrics; they only ever grow.
public struct GossipStats: Sendable, Equatable {
    /// Direct probes started by this node.
    public var probesSent = 0
    /// Probes that got neither a direct nor an indirect ack in their interval.
    public var probesFailed = 0
    /// Ping requests sent to helpers after a missed direct ack.
    public var indirectProbesSent = 0
    /// Probes this node ran on behalf of others (ping requests received).
    public var indirectProbesServed = 0
    public var nacksSent = 0
    public var nacksReceived = 0
    /// Members this node (not gossip) put under suspicion.
    public var suspicionsRaised = 0
    /// Suspicions about other members that ended in a refutation (a higher incarnation, alive).
    public var suspicionsRefuted = 0
    /// Times this node raised its incarnation to refute a claim about itself.
    public var selfRefutations = 0
    /// Members this node declared dead after their suspicion expired.
    public var membersDeclaredDead = 0
    public var pushPullsSent = 0
    /// Gossip-only messages of the urgent fan-out (`GossipSettings.gossipInterval`).
    public var gossipsSent = 0
    public var messagesSent = 0
    public var messagesReceived = 0
    /// Messages from an older generation of their sender, dropped unprocessed.
    public var staleMessagesDropped = 0
    /// Send failures reported by the shell.
    public var sendFailures = 0

    public init() {}
}
