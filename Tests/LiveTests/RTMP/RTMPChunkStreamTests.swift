import Testing

@testable import Live

/// The RTMP chunk stream, AMF0 and the handshake on bytes made by hand and by the encoder, split
/// at random: interleaved chunk streams, header types 0-3, extended timestamps, Set Chunk Size
/// mid-stream; and hostile input, which is an error, never a crash or unbounded memory.
@Suite("RTMP: chunk stream, AMF0, handshake")
struct RTMPChunkStreamTests {
    private func decodeInPieces(_ bytes: [UInt8], seed: UInt64, decoder: inout RTMPChunkDecoder) throws -> [RTMPMessage]
    {
        var rng = LiveTestRNG(seed: seed)
        var messages: [RTMPMessage] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + Int.random(in: 1...700, using: &rng))
            messages += try decoder.feed(bytes[offset..<end])
            offset = end
        }
        return messages
    }

    @Test(
        "messages of every size, on many chunk streams, with extended timestamps, survive any split",
        arguments: [1, 2, 3]
    )
    func roundTrip(seed: UInt64) throws {
        var rng = LiveTestRNG(seed: seed)
        var encoder = RTMPChunkEncoder()
        var decoder = RTMPChunkDecoder()
        var sent: [RTMPMessage] = []
        var wire: [UInt8] = []
        for i in 0..<300 {
            if i == 100 {
                // The sender raises its chunk size mid-stream, as ffmpeg and OBS do after connect.
                encoder.chunkSize = 4096
                wire += RTMPChunkEncoder().encode(.control(RTMPMessage.Kind.setChunkSize, 4096))
            }
            let size = [0, 1, 127, 128, 129, 4095, 4096, 4097, Int.random(in: 0...20_000, using: &rng)].randomElement(
                using: &rng
            )!
            let message = RTMPMessage(
                typeID: [8, 9, 18, 20].randomElement(using: &rng)!,
                streamID: UInt32.random(in: 0...3, using: &rng),
                timestamp: Bool.random(using: &rng)
                    ? UInt32.random(in: 0...0xFF_FFFE, using: &rng)
                    : UInt32.random(in: 0xFF_FFFF...UInt32.max, using: &rng),
                payload: (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) },
                chunkStreamID: [3, 4, 63, 64, 319, 320, 65_599].randomElement(using: &rng)!
            )
            sent.append(message)
            wire += encoder.encode(message)
        }
        let received = try decodeInPieces(wire, seed: seed, decoder: &decoder)
        #expect(received.filter { $0.typeID != RTMPMessage.Kind.setChunkSize } == sent)
        #expect(decoder.chunkSize == 4096)
        #expect(decoder.bytesReceived == UInt64(wire.count))
    }

    @Test("header types 1-3 carry deltas; chunks of two streams interleave; a message abandoned mid-way is dropped")
    func headerTypesAndInterleaving() throws {
        var decoder = RTMPChunkDecoder()
        var wire: [UInt8] = []
        // csid 4, type 0: timestamp 1000, 200 bytes of type 9 on stream 1: the first 128 bytes.
        wire += [0x04, 0x00, 0x03, 0xE8, 0x00, 0x00, 0xC8, 0x09, 0x01, 0, 0, 0] + [UInt8](repeating: 0xA1, count: 128)
        // csid 6, type 0: timestamp 5, 3 bytes of type 8: whole.
        wire += [0x06, 0x00, 0x00, 0x05, 0x00, 0x00, 0x03, 0x08, 0x01, 0, 0, 0, 1, 2, 3]
        // csid 4, type 3: the other 72 bytes.
        wire += [0xC4] + [UInt8](repeating: 0xA1, count: 72)
        // csid 6, type 2: delta 20, same length and type: timestamp 25.
        wire += [0x86, 0x00, 0x00, 0x14, 4, 5, 6]
        // csid 6, type 3 starting a new message: the same delta again, timestamp 45.
        wire += [0xC6, 7, 8, 9]
        // csid 6, type 1: delta 100, 2 bytes of type 18: timestamp 145.
        wire += [0x46, 0x00, 0x00, 0x64, 0x00, 0x00, 0x02, 0x12, 10, 11]
        // csid 4, type 0 of 200 bytes, abandoned after one chunk by a new type-0 header of 1 byte.
        wire += [0x04, 0x00, 0x00, 0x01, 0x00, 0x00, 0xC8, 0x09, 0x01, 0, 0, 0] + [UInt8](repeating: 0xB2, count: 128)
        wire += [0x04, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01, 0x09, 0x01, 0, 0, 0, 0xCC]
        let messages = try decodeInPieces(wire, seed: 9, decoder: &decoder)
        #expect(messages.map(\.timestamp) == [5, 1000, 25, 45, 145, 2])
        #expect(messages.map(\.payload.count) == [3, 200, 3, 3, 2, 1])
        #expect(messages.map(\.typeID) == [8, 9, 8, 8, 18, 9])
        #expect(messages[1].payload == [UInt8](repeating: 0xA1, count: 200))
        #expect(messages[2].payload == [4, 5, 6] && messages[3].payload == [7, 8, 9])
        #expect(messages.allSatisfy { $0.streamID == 1 })
    }

    @Test("hostile chunk streams: oversize messages, too many streams, continuations of nothing, bad chunk sizes")
    func hostileChunks() {
        var small = RTMPChunkDecoder(maximumMessageSize: 1000)
        #expect(throws: RTMPError.messageTooLarge(1001)) {
            try small.feed([0x04, 0, 0, 0, 0x00, 0x03, 0xE9, 0x09, 0, 0, 0, 0])
        }
        var many = RTMPChunkDecoder()
        #expect(throws: RTMPError.tooManyChunkStreams) {
            for id in 0..<70 {
                // A message of 200 bytes begun on each chunk stream: its first 128-byte chunk.
                _ = try many.feed(
                    [0x00, UInt8(id), 0, 0, 0, 0, 0, 200, 9, 0, 0, 0, 0] + [UInt8](repeating: 1, count: 128)
                )
            }
        }
        var orphan = RTMPChunkDecoder()
        #expect(throws: RTMPError.self) { try orphan.feed([0xC5, 1, 2, 3]) }
        var zero = RTMPChunkDecoder()
        #expect(throws: RTMPError.badChunk("chunk size 0")) {
            try zero.feed(RTMPChunkEncoder().encode(.control(RTMPMessage.Kind.setChunkSize, 0)))
        }

        // Random bytes: errors or nothing, never a crash, and what is held stays small.
        var rng = LiveTestRNG(seed: 77)
        for _ in 0..<2000 {
            var decoder = RTMPChunkDecoder(maximumMessageSize: 64 << 10)
            let bytes = (0..<Int.random(in: 1...3000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if (try? decoder.feed(bytes)) != nil {
                // What is held is part of what came (an unfinished chunk, partial messages).
                #expect(decoder.heldBytes <= bytes.count)
            }
        }
    }

    @Test("AMF0: a connect command round-trips; hostile values are errors")
    func amf0() throws {
        let connect: [AMF0Value] = [
            .string("connect"), .number(1),
            .object([
                AMF0Property("app", .string("live")), AMF0Property("type", .string("nonprivate")),
                AMF0Property("flashVer", .string("FMLE/3.0 (compatible; FMSc/1.0)")),
                AMF0Property("tcUrl", .string("rtmp://127.0.0.1:1935/live")),
                AMF0Property("fpad", .boolean(false)), AMF0Property("capabilities", .number(15)),
                AMF0Property("nested", .ecmaArray([AMF0Property("x", .strictArray([.null, .undefined, .date(1)]))])),
            ]),
        ]
        let bytes = AMF0.encode(connect)
        #expect(try AMF0.decode(bytes) == connect)
        #expect(try AMF0.decode(bytes)[2]["app"]?.string == "live")
        #expect(Array(AMF0.encode([.string("hi")])) == [0x02, 0, 2, 0x68, 0x69])

        #expect(throws: RTMPError.self) { try AMF0.decode(bytes.dropLast()) }
        #expect(throws: RTMPError.badAMF("marker 0x7")) { try AMF0.decode([0x07]) }
        #expect(throws: RTMPError.self) { try AMF0.decode([0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x05]) }
        var deep = AMF0Value.null
        for _ in 0..<12 { deep = .strictArray([deep]) }
        #expect(throws: RTMPError.self) { try AMF0.decode(AMF0.encode([deep])) }
    }

    @Test("handshake: S2 echoes C1, bytes after C2 go to the chunk stream, other versions are refused")
    func handshake() throws {
        var rng = LiveTestRNG(seed: 5)
        let c1 = (0..<1536).map { _ in UInt8.random(in: 0...255, using: &rng) }
        var handshake = RTMPHandshake(noise: [7, 7, 7])
        #expect(try handshake.feed([3] + c1.prefix(1000)) == [.waiting])
        let steps = try handshake.feed(c1.dropFirst(1000) + [UInt8](repeating: 9, count: 1000))
        guard case .reply(let reply) = steps.first else {
            Issue.record("no reply: \(steps)")
            return
        }
        #expect(reply.count == 1 + 1536 * 2)
        #expect(reply[0] == 3)
        #expect(Array(reply[(1 + 1536)...]) == c1)
        #expect(steps.last == .waiting)
        #expect(try handshake.feed([UInt8](repeating: 9, count: 536) + [0xAA, 0xBB]) == [.done(rest: [0xAA, 0xBB])])

        var http = RTMPHandshake(noise: [])
        #expect(throws: RTMPError.badVersion(0x47)) { try http.feed(Array("GET / HTTP/1.1\r\n".utf8)) }
    }
}
