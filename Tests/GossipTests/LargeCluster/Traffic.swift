import Gossip

/// Gossip traffic per node per second over a window, split into failure detection (ping, ack,
/// ping request, nack) and full-state sync (push-pull requests and responses).
struct Traffic {
    var seconds: Double = 0
    var nodes = 0
    var probeMessages = 0
    var probeBytes = 0
    var syncMessages = 0
    var syncBytes = 0
    /// JSON bytes before framing, to show what LZ4 saves.
    var jsonBytes = 0
    /// Largest single message (a push-pull carrying the whole member table), framed.
    var largestFrame = 0
    /// Piggybacked updates carried, all messages.
    var updates = 0

    private var perNodeSecond: Double { max(Double(nodes) * seconds, 1e-9) }
    var messagesPerNodeSecond: Double { Double(probeMessages + syncMessages) / perNodeSecond }
    var bytesPerNodeSecond: Double { Double(probeBytes + syncBytes) / perNodeSecond }
    var probeBytesPerNodeSecond: Double { Double(probeBytes) / perNodeSecond }
    var syncBytesPerNodeSecond: Double { Double(syncBytes) / perNodeSecond }
    var compression: Double { Double(probeBytes + syncBytes) / Double(max(jsonBytes, 1)) }
}

extension Simulation {
    /// Runs `seconds` and counts every message sent (delivered or lost on the way: both left the
    /// sender; a send refused because the receiver is down carries no payload and is not counted),
    /// sized with the node's own encoding.
    func measureTraffic(seconds: Double) -> Traffic {
        var traffic = Traffic()
        let size = WireSize()
        let previous = onTransmit
        onTransmit = { message, _, _, fate in
            guard fate != .refused else { return }
            let (json, frame) = size.measure(message)
            traffic.jsonBytes += json
            traffic.largestFrame = max(traffic.largestFrame, frame)
            traffic.updates += message.updates.count
            if case .pushPull = message.kind {
                traffic.syncMessages += 1
                traffic.syncBytes += frame
            } else {
                traffic.probeMessages += 1
                traffic.probeBytes += frame
            }
        }
        defer { onTransmit = previous }
        traffic.nodes = runningIndices.count
        traffic.seconds = seconds
        run(for: seconds)
        return traffic
    }
}
