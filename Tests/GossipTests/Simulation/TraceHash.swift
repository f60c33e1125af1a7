import Gossip

/// A running FNV-1a hash of everything observable in a simulation (deliveries, membership
/// changes), so two runs of one seed can be compared cheaply.
struct TraceHash: Equatable {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325
    private(set) var events = 0

    mutating func mix(_ word: UInt64) {
        var word = word
        for _ in 0..<8 {
            value ^= word & 0xFF
            value &*= 0x100_0000_01B3
            word >>= 8
        }
    }

    mutating func mix(_ string: String) {
        for byte in string.utf8 {
            value ^= UInt64(byte)
            value &*= 0x100_0000_01B3
        }
        mix(UInt64(string.utf8.count))
    }

    mutating func record(_ words: UInt64...) {
        events += 1
        for word in words { mix(word) }
    }
}

extension GossipMessage.Kind {
    /// A small tag and the sequence number, for tracing.
    var traceWords: (UInt64, UInt64) {
        switch self {
        case .ping(let seq, _, _): (1, seq)
        case .ack(let seq, _, _, _): (2, seq)
        case .pingReq(let seq, _): (3, seq)
        case .nack(let seq, _): (4, seq)
        case .pushPull(let members, let isResponse): (isResponse ? 6 : 5, UInt64(members.count))
        case .leave: (7, 0)
        }
    }
}
