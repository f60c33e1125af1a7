import Foundation
import Gossip
import NIOCore
import Wire

/// The size of a gossip message as the node sends it: JSON, then one `BatchFrame` (LZ4 when that
/// pays), exactly the bytes `GossipShell.deliver` hands to the peer client and counts in
/// `qunbo_gossip_bytes_sent_total`.
///
/// Not counted, because the simulation has no HTTP/2 connection to measure them on: the HTTP/2
/// frame headers (9 bytes per frame), the request's HPACK-compressed headers (path, content type,
/// and the signed `qunbo-peer-auth` header, about 130 characters that change on every request) and
/// the `204` response.
struct WireSize {
    private let encoder = JSONEncoder()

    /// Bytes of the JSON body and of the frame that carries it.
    func measure(_ message: GossipMessage) -> (json: Int, frame: Int) {
        guard let json = try? encoder.encode(message) else { return (0, 0) }
        var frame = ByteBuffer()
        let result = BatchFrame.encode(ByteBuffer(bytes: json), into: &frame)
        return (json.count, result.wireBytes)
    }
}
