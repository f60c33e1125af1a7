import Foundation
import Live
import Testing

@testable import Node

/// The replicated log's event payloads: the binary form written now, and the JSON form of logs
/// written before it, which a node must still load after an upgrade.
@Suite("Event payloads in the log")
struct EventPayloadTests {
    static let event = LiveEvent(seq: 3, type: .comment, user: "u1", name: "Ann", at: 1_795_600_800_000, text: "hi")

    @Test func readsBothForms() throws {
        #expect(try SessionHost.decodeEvent(LiveEventCodec.encode(Self.event)) == Self.event)
        let json = Array(try JSONCoding.encoder.encode(Self.event))
        #expect(try SessionHost.decodeEvent(json) == Self.event)
    }

    @Test func refusesGarbage() {
        #expect(throws: (any Error).self) { try SessionHost.decodeEvent([]) }
        #expect(throws: (any Error).self) { try SessionHost.decodeEvent(Array("{\"seq\":".utf8)) }
        #expect(throws: (any Error).self) { try SessionHost.decodeEvent([0x02, 1, 2]) }
    }
}
