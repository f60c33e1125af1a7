import NIOCore
import Shard

/// How a `SessionHost` reaches the other replicas of its session. Both calls return at once:
/// messages are queued per destination node and shipped in batches (`PeerLinks`).
protocol ReplicationTransport: Sendable {
    func send(_ message: ReplicationMessage, group: String, to node: String)
    /// One copy per destination node, however many viewers each has.
    /// Tells `node` it was removed from the session's replica set.
    func sendRemoved(group: String, session: String, epoch: UInt64, to node: String)
    /// An edge relay's subscribe, feed or unsubscribe (issue 17).
    func sendRelay(_ message: LinkMessage, to node: String)
    func relayMedia(_ bytes: ByteBuffer, group: String, session: String, to nodes: [String])
}
