import Testing

@testable import Live

@Suite("GOP cache")
struct GOPCacheTests {
    private func chunk(_ tag: UInt8, packets: Int = 1, key: Bool = false) -> MediaChunk {
        MediaChunk(bytes: [UInt8](repeating: tag, count: 188 * packets), keyframe: key, pts: nil)
    }

    @Test func newViewerStartsWithProgramInfoThenTheLatestKeyframe() {
        var cache = GOPCache()
        let info = [UInt8](repeating: 0x47, count: 376)
        cache.append(chunk(1))  // before any keyframe: undecodable, not cached
        #expect(cache.isEmpty)
        #expect(cache.startChunks(programInfo: info) == [info])
        cache.append(chunk(2, key: true))
        cache.append(chunk(3))
        cache.append(chunk(4))
        #expect(cache.startChunks(programInfo: info) == [info, chunk(2).bytes, chunk(3).bytes, chunk(4).bytes])
        cache.append(chunk(5, key: true))
        cache.append(chunk(6))
        #expect(cache.startChunks(programInfo: info) == [info, chunk(5).bytes, chunk(6).bytes])
        #expect(cache.chunks.first?.keyframe == true)
        #expect(cache.byteCount == 376)
    }

    @Test func boundDropsTheGOPUntilTheNextKeyframe() {
        var cache = GOPCache(maxBytes: 1000)
        cache.append(chunk(1, packets: 2, key: true))
        cache.append(chunk(2, packets: 2))
        #expect(cache.byteCount == 752)
        cache.append(chunk(3, packets: 2))  // 1128 > 1000
        #expect(cache.isEmpty && cache.byteCount == 0)
        cache.append(chunk(4))
        #expect(cache.isEmpty)
        cache.append(chunk(5, packets: 6, key: true))  // a keyframe alone over the bound
        #expect(cache.isEmpty)
        cache.append(chunk(6, key: true))
        #expect(cache.startChunks(programInfo: nil) == [chunk(6).bytes])
    }

    @Test func demuxedSampleStartsAtItsLastKeyframe() {
        let sample = MediaSampleStream()
        var demuxer = TSDemuxer()
        var cache = GOPCache()
        for chunk in demuxer.feed(sample.bytes) { cache.append(chunk) }
        let start = cache.startChunks(programInfo: demuxer.programInfo)
        #expect(start.first == sample.patPackets[1] + sample.pmtPackets[1])
        #expect(Array(start[1].prefix(188)) == sample.packets[sample.keyframes[1].packet])
        #expect(start.dropFirst().flatMap { $0 } == sample.packets[sample.keyframes[1].packet...].flatMap { $0 })
    }
}
