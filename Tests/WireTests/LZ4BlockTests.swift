import Determinism
import NIOCore
import Testing

@testable import Wire

/// A tiny deterministic generator so "random" inputs are the same on every run.
/// The cores' SplitMix64, so the random inputs are the same on every run.
typealias TestRandom = SplitMix64

extension SplitMix64 {
    /// `n` random bytes.
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: .min ... .max, using: &self) } }
}

@Suite("LZ4 block codec")
struct LZ4BlockTests {
    static let textLike: [UInt8] = Array(
        String(repeating: "{\"seq\":42,\"type\":\"comment\",\"user\":\"u1\",\"text\":\"hello group\"}\n", count: 2000)
            .utf8
    )

    @Test("round trips empty, small, large and incompressible input", arguments: [0, 1, 17, 4096, 1 << 20])
    func roundTrip(size: Int) throws {
        var rng = TestRandom(seed: UInt64(size))
        for input in [Array(Self.textLike.prefix(size)), rng.bytes(size)] {
            let block = try LZ4Block.compress(input)
            let back = try LZ4Block.decompress(block, decompressedSize: input.count, maxOutputSize: 1 << 21)
            #expect(back == input)
        }
    }

    @Test("compresses repetitive text well")
    func compressesText() throws {
        let block = try LZ4Block.compress(Self.textLike)
        #expect(block.count * 10 < Self.textLike.count)
    }

    @Test("incompressible input grows by at most LZ4's bound")
    func incompressible() throws {
        var rng = TestRandom(seed: 7)
        let input = rng.bytes(100_000)
        let block = try LZ4Block.compress(input)
        #expect(block.count <= LZ4Block.compressBound(input.count))
    }

    @Test("truncated blocks are refused with .corrupt")
    func truncated() throws {
        let block = try LZ4Block.compress(Self.textLike)
        for cut in [1, block.count / 2, block.count - 1] {
            #expect(throws: LZ4Error.corrupt) {
                try LZ4Block.decompress(
                    Array(block.prefix(cut)),
                    decompressedSize: Self.textLike.count,
                    maxOutputSize: 1 << 20
                )
            }
        }
        #expect(throws: LZ4Error.corrupt) {
            try LZ4Block.decompress([], decompressedSize: 10, maxOutputSize: 1 << 20)
        }
    }

    @Test("corrupted blocks never crash: each either fails or yields exactly the declared size")
    func corrupted() throws {
        var rng = TestRandom(seed: 99)
        let block = try LZ4Block.compress(Self.textLike)
        for _ in 0..<2000 {
            var bad = block
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                bad[Int.random(in: 0..<bad.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if let out = try? LZ4Block.decompress(bad, decompressedSize: Self.textLike.count, maxOutputSize: 1 << 20) {
                #expect(out.count == Self.textLike.count)
            }
        }
        // Pure garbage, too.
        for n in [1, 5, 100, 10_000] {
            let garbage = rng.bytes(n)
            if let out = try? LZ4Block.decompress(garbage, decompressedSize: 1000, maxOutputSize: 1000) {
                #expect(out.count == 1000)
            }
        }
    }

    @Test("a declared size above the limit is refused before allocating")
    func declaredSizeBound() throws {
        let block = try LZ4Block.compress(Array(Self.textLike.prefix(100)))
        #expect(throws: LZ4Error.declaredSizeOutOfBounds(declared: 1 << 30, limit: 1 << 20)) {
            try LZ4Block.decompress(block, decompressedSize: 1 << 30, maxOutputSize: 1 << 20)
        }
        #expect(throws: LZ4Error.declaredSizeOutOfBounds(declared: -1, limit: 1 << 20)) {
            try LZ4Block.decompress(block, decompressedSize: -1, maxOutputSize: 1 << 20)
        }
    }

    @Test("a declared size that does not match the block is corrupt")
    func sizeMismatch() throws {
        let input = Array(Self.textLike.prefix(1000))
        let block = try LZ4Block.compress(input)
        #expect(throws: LZ4Error.corrupt) {
            try LZ4Block.decompress(block, decompressedSize: 999, maxOutputSize: 1 << 20)
        }
        #expect(throws: LZ4Error.corrupt) {
            try LZ4Block.decompress(block, decompressedSize: 1001, maxOutputSize: 1 << 20)
        }
    }
}
