import Testing

@testable import Live

@Suite("HLS segmenter and playlists")
struct HLSTests {
    static let info: [UInt8] = [UInt8](repeating: 0x47, count: 376)

    /// A keyframe every second and a plain chunk half-way, from `start` for `seconds` seconds.
    private func chunks(start: UInt64, seconds: Int) -> [MediaChunk] {
        (0..<seconds).flatMap { s in
            let pts = MediaClock.advance(start, by: UInt64(s) * 90_000)
            return [
                MediaChunk(bytes: [UInt8](repeating: UInt8(s), count: 188), keyframe: true, pts: pts),
                MediaChunk(
                    bytes: [UInt8](repeating: 0xEE, count: 188),
                    keyframe: false,
                    pts: MediaClock.advance(pts, by: 45_000)
                ),
            ]
        }
    }

    private func run(_ segmenter: inout HLSSegmenter, _ chunks: [MediaChunk]) -> [HLSSegment] {
        chunks.flatMap { segmenter.append($0, programInfo: Self.info) }
    }

    @Test func cutsAtKeyframesOnceTheTargetIsReached() {
        var segmenter = HLSSegmenter()
        let segments = run(&segmenter, chunks(start: 1000, seconds: 7))
        #expect(segments.map(\.sequence) == [0, 1, 2])
        #expect(segments.map(\.duration) == [2, 2, 2])
        for (i, segment) in segments.enumerated() {
            #expect(Array(segment.bytes.prefix(376)) == Self.info)
            #expect(segment.bytes[376] == UInt8(2 * i))  // then the keyframe chunk
            #expect(segment.bytes.count == 376 + 4 * 188)
        }
        let tail = segmenter.finish(lastPTS: 1000 + 7 * 90_000)
        #expect(tail?.sequence == 3)
        #expect(tail?.duration == 1)
        #expect(segmenter.finish(lastPTS: nil) == nil)
        #expect(segmenter.window.map(\.sequence) == [0, 1, 2, 3])
        #expect(segmenter.mediaSequence == 0)
    }

    @Test func durationsSurviveThe33BitWrap() {
        var segmenter = HLSSegmenter()
        let segments = run(&segmenter, chunks(start: (1 << 33) - 90_000, seconds: 5))
        #expect(segments.map(\.duration) == [2, 2])
        // Without an end PTS the tail runs to the latest chunk PTS seen.
        #expect(segmenter.finish(lastPTS: nil)?.duration == 0.5)
    }

    @Test func windowSlides() {
        var segmenter = HLSSegmenter(targetDuration: 1, windowSize: 3)
        let segments = run(&segmenter, chunks(start: 0, seconds: 6))
        #expect(segments.count == 5)
        #expect(segmenter.window.map(\.sequence) == [2, 3, 4])
        #expect(segmenter.mediaSequence == 2)
        #expect(segmenter.nextSequence == 5)
    }

    @Test func chunksBeforeTheFirstKeyframeAndKeyframesWithoutPTS() {
        var segmenter = HLSSegmenter()
        let lead = MediaChunk(bytes: [UInt8](repeating: 9, count: 188), keyframe: false, pts: 5)
        #expect(segmenter.append(lead, programInfo: Self.info).isEmpty)
        var input = chunks(start: 0, seconds: 3)
        input[4].pts = nil  // the keyframe at 2 s has no PTS: no cut there
        let segments = run(&segmenter, input + chunks(start: 3 * 90_000, seconds: 1))
        #expect(segments.map(\.duration) == [3])
        #expect(segments[0].bytes.count == 376 + 6 * 188)
        #expect(!segments[0].bytes.contains(9))
    }

    @Test func timestampJumpClosesTheSegment() {
        var segmenter = HLSSegmenter()
        let segments = run(&segmenter, chunks(start: 900_000, seconds: 1) + chunks(start: 0, seconds: 1))
        #expect(segments.map(\.duration) == [0.5])  // up to the last PTS it had
    }

    @Test func oversizedSegmentIsDropped() {
        var segmenter = HLSSegmenter(maxSegmentBytes: 1000)
        let segments = run(&segmenter, chunks(start: 0, seconds: 5))
        #expect(segments.isEmpty)
    }

    @Test func livePlaylistText() {
        let window = [
            HLSSegment(sequence: 7, duration: 2.0, bytes: []),
            HLSSegment(sequence: 8, duration: 2.002, bytes: []),
            HLSSegment(sequence: 9, duration: 1.5, bytes: []),
        ]
        let text = HLSPlaylist.live(window: window, targetDuration: 2) { "seg\($0).ts" }
        #expect(
            text == """
                #EXTM3U
                #EXT-X-VERSION:3
                #EXT-X-TARGETDURATION:3
                #EXT-X-MEDIA-SEQUENCE:7
                #EXTINF:2.000,
                seg7.ts
                #EXTINF:2.002,
                seg8.ts
                #EXTINF:1.500,
                seg9.ts

                """
        )
        let ended = HLSPlaylist.live(window: Array(window.prefix(1)), targetDuration: 2, ended: true) { "s/\($0)" }
        #expect(
            ended == "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n"
                + "#EXTINF:2.000,\ns/7\n#EXT-X-ENDLIST\n"
        )
        #expect(
            HLSPlaylist.live(window: [], targetDuration: 2) { "\($0)" }
                == "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
        )
    }

    @Test func vodPlaylistText() {
        let text = HLSPlaylist.vod(segments: [("0.ts", 2.0), ("1.ts", 1.9996), ("2.ts", 0.04)])
        #expect(
            text == """
                #EXTM3U
                #EXT-X-VERSION:3
                #EXT-X-PLAYLIST-TYPE:VOD
                #EXT-X-TARGETDURATION:2
                #EXT-X-MEDIA-SEQUENCE:0
                #EXTINF:2.000,
                0.ts
                #EXTINF:2.000,
                1.ts
                #EXTINF:0.040,
                2.ts
                #EXT-X-ENDLIST

                """
        )
    }

    @Test func numberFormatting() {
        #expect(HLSPlaylist.formatSeconds(0) == "0.000")
        #expect(HLSPlaylist.formatSeconds(12.3456) == "12.346")
        #expect(HLSPlaylist.formatSeconds(.nan) == "0.000")
        #expect(HLSPlaylist.ceilSeconds(2.0000001) == 2)
        #expect(HLSPlaylist.ceilSeconds(2.0006) == 3)
    }
}
