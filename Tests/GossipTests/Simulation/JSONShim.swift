import Foundation
import Gossip

/// JSON encoding for round-trip tests (Foundation is fine in tests; the core stays free of it).
enum JSONEncoderShim {
    static func encode(_ message: GossipMessage) throws -> Data {
        try JSONEncoder().encode(message)
    }

    static func decode(_ data: Data) throws -> GossipMessage {
        try JSONDecoder().decode(GossipMessage.self, from: data)
    }
}
