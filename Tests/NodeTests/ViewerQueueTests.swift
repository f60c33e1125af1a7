import NIOCore
import Testing

@testable import Node

@Suite("Viewer queues")
struct ViewerQueueTests {
    static func item(_ n: Int, keyframe: Bool = false) -> ViewerQueue.Item {
        .init(ByteBuffer(bytes: [UInt8](repeating: UInt8(n & 0xFF), count: 100)), keyframe: keyframe)
    }

    @Test("a viewer takes everything queued in one batch, in order")
    func batches() async {
        let q = ViewerQueue(limitBytes: 10_000, policy: .disconnect)
        for i in 0..<5 { q.push(Self.item(i)) }
        let batch = await q.next()
        #expect(batch?.map { $0.bytes.getInteger(at: 0, as: UInt8.self) } == [0, 1, 2, 3, 4])
        q.close()
        #expect(await q.next() == nil)
    }

    @Test("a slow media viewer skips whole GOPs: it resumes exactly at a keyframe")
    func skipToKeyframe() async {
        let q = ViewerQueue(limitBytes: 1_000, policy: .skipToKeyframe)
        q.push(Self.item(0, keyframe: true))
        for i in 1..<20 { q.push(Self.item(i)) }  // overflows at 1,000 bytes
        q.push(Self.item(20))  // still skipping: not a keyframe
        q.push(Self.item(21, keyframe: true))
        q.push(Self.item(22))
        let batch = await q.next() ?? []
        #expect(batch.first?.keyframe == true)
        #expect(batch.map { Int($0.bytes.getInteger(at: 0, as: UInt8.self)!) } == [21, 22])
        #expect(q.gopsSkipped == 1)
        #expect(!q.isClosed)
    }

    @Test("a slow event viewer is disconnected, never handed a gap")
    func disconnect() async {
        let q = ViewerQueue(limitBytes: 1_000, policy: .disconnect)
        var accepted = 0
        for i in 0..<20 where q.push(Self.item(i)) { accepted += 1 }
        #expect(accepted == 10)
        #expect(q.isClosed)
        #expect(await q.next() == nil)
    }

    @Test("a waiting viewer wakes on push and on close")
    func wakeups() async {
        let q = ViewerQueue(limitBytes: 10_000, policy: .disconnect)
        async let first = q.next()
        try? await Task.sleep(for: .milliseconds(20))
        q.push(Self.item(7))
        #expect(await first?.count == 1)
        async let second = q.next()
        try? await Task.sleep(for: .milliseconds(20))
        q.close()
        #expect(await second == nil)
    }
}
