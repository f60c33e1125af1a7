import Benchmark
import NIOCore
import Shard
import Wire

/// Keeps a result alive so the optimizer cannot drop the work that made it.
@inline(never)
func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}

/// Placement: what a node pays per routed request (owner / preference list lookups) and per
/// membership change (ring build), at the cluster sizes the placement tests use.
let groups = (0..<4096).map { "group-\($0)-\($0 &* 2_654_435_761 % 1_000_003)" }

for n in [10, 50, 200] {
    let nodes = (0..<n).map { ShardNode(id: "node-\($0)", zone: "zone-\($0 % 3)") }
    let plainNodes = nodes.map { ShardNode(id: $0.id, zone: nil) }
    let zoned = try! HashRing(nodes: nodes)
    let plain = try! HashRing(nodes: plainNodes)
    var i = 0
    benchmark("ring.owner n=\(n)") {
        i = (i &+ 1) & 4095
        blackHole(plain.owner(of: groups[i]))
    }
    benchmark("ring.preferenceList(3) n=\(n)") {
        i = (i &+ 1) & 4095
        blackHole(plain.preferenceList(for: groups[i], count: 3))
    }
    benchmark("ring.preferenceList(3) 3 zones n=\(n)") {
        i = (i &+ 1) & 4095
        blackHole(zoned.preferenceList(for: groups[i], count: 3))
    }
    benchmark("ring.build 512 vnodes n=\(n)") {
        blackHole(try! HashRing(nodes: plainNodes))
    }
}

var h = 0
benchmark("StableHash 20-byte key") {
    h = (h &+ 1) & 4095
    blackHole(StableHash.hash(groups[h]))
}

/// The node-to-node codec: a 64 KiB batch of event JSON (compressible) and of media
/// (incompressible, sent raw after one failed try).
let eventLine = #"{"seq":4242,"type":"comment","user":"u-1234","name":"Ann","text":"so good!!","at":"2026-11-25T10:00:00Z"}"#
let events = ByteBuffer(string: String(repeating: eventLine + "\n", count: 65_536 / (eventLine.count + 1)))
var state: UInt64 = 42
let media = ByteBuffer(
    bytes: (0..<65_536).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1
        return UInt8(truncatingIfNeeded: state >> 33)
    }
)
let compressedEvents = try! LZ4Block.compress(events)

benchmark("LZ4 compress 64 KiB events") { blackHole(try! LZ4Block.compress(events)) }
benchmark("LZ4 decompress 64 KiB events") {
    blackHole(
        try! LZ4Block.decompress(compressedEvents, decompressedSize: events.readableBytes, maxOutputSize: 1 << 20)
    )
}
benchmark("BatchFrame.encode 64 KiB events") {
    var out = ByteBuffer()
    blackHole(BatchFrame.encode(events, into: &out))
}
benchmark("BatchFrame.encode 64 KiB media (raw)") {
    var out = ByteBuffer()
    blackHole(BatchFrame.encode(media, into: &out))
}

Benchmark.main()
