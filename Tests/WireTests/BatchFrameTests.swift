import NIOCore
import Testing

@testable import Wire

@Suite("Batch framing")
struct BatchFrameTests {
    @Test("text batches are compressed, random ones sent raw, both decode back")
    func compressWhenItPays() throws {
        var rng = TestRandom(seed: 3)
        let text = ByteBuffer(bytes: LZ4BlockTests.textLike)
        let noise = ByteBuffer(bytes: rng.bytes(10_000))
        let tiny = ByteBuffer(string: "hi")
        var wire = ByteBuffer()
        let r1 = BatchFrame.encode(text, into: &wire)
        let r2 = BatchFrame.encode(noise, into: &wire)
        let r3 = BatchFrame.encode(tiny, into: &wire)
        #expect(r1.compressed && r1.wireBytes < r1.rawBytes / 5)
        #expect(!r2.compressed && r2.wireBytes == r2.rawBytes + 5)
        #expect(!r3.compressed)
        #expect(wire.readableBytes == r1.wireBytes + r2.wireBytes + r3.wireBytes)
        #expect(try BatchFrame.decode(from: &wire, maxPayload: 1 << 20) == text)
        #expect(try BatchFrame.decode(from: &wire, maxPayload: 1 << 20) == noise)
        #expect(try BatchFrame.decode(from: &wire, maxPayload: 1 << 20) == tiny)
        #expect(try BatchFrame.decode(from: &wire, maxPayload: 1 << 20) == nil)
    }

    @Test("partial frames wait for more bytes and consume nothing")
    func partial() throws {
        var whole = ByteBuffer()
        BatchFrame.encode(ByteBuffer(bytes: LZ4BlockTests.textLike), into: &whole)
        let bytes = Array(whole.readableBytesView)
        for cut in [0, 3, 5, 8, 9, bytes.count - 1] {
            var part = ByteBuffer(bytes: bytes.prefix(cut))
            #expect(try BatchFrame.decode(from: &part, maxPayload: 1 << 20) == nil)
            #expect(part.readableBytes == cut)
        }
    }

    @Test("oversized declarations are refused before allocation")
    func oversized() throws {
        var raw = ByteBuffer()
        raw.writeInteger(UInt32(10_000_000))
        raw.writeInteger(UInt8(0))
        #expect(throws: BatchFrameError.frameTooLarge(size: 10_000_000, limit: 1 << 20)) {
            try BatchFrame.decode(from: &raw, maxPayload: 1 << 20)
        }
        var lz = ByteBuffer()
        lz.writeInteger(UInt32(16))
        lz.writeInteger(BatchFrame.lz4Flag)
        lz.writeInteger(UInt32(2_000_000_000))
        lz.writeBytes([UInt8](repeating: 0, count: 16))
        #expect(throws: BatchFrameError.frameTooLarge(size: 2_000_000_000, limit: 1 << 20)) {
            try BatchFrame.decode(from: &lz, maxPayload: 1 << 20)
        }
    }

    @Test("unknown flags and corrupt bodies are typed errors")
    func corrupt() throws {
        var flags = ByteBuffer()
        flags.writeInteger(UInt32(1))
        flags.writeInteger(UInt8(0x80))
        flags.writeInteger(UInt8(0))
        #expect(throws: BatchFrameError.unknownFlags(0x80)) { try BatchFrame.decode(from: &flags, maxPayload: 100) }
        var bad = ByteBuffer()
        bad.writeInteger(UInt32(4))
        bad.writeInteger(BatchFrame.lz4Flag)
        bad.writeInteger(UInt32(50))
        bad.writeBytes([0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: BatchFrameError.compression(.corrupt)) { try BatchFrame.decode(from: &bad, maxPayload: 100) }
    }
}
