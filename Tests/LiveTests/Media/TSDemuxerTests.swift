import Testing

@testable import Live

@Suite("MPEG-TS demuxer")
struct TSDemuxerTests {
    let sample = MediaSampleStream()

    @Test func keyframesBeginNewChunks() {
        var demuxer = TSDemuxer()
        let chunks = demuxer.feed(sample.bytes)
        // PAT+PMT, then one chunk per keyframe (RAI-flagged, then NAL-detected).
        #expect(chunks.count == 3)
        #expect(chunks.map(\.keyframe) == [false, true, true])
        #expect(chunks[0].bytes == sample.patPackets[0] + sample.pmtPackets[0])
        #expect(chunks[0].pts == nil)
        #expect(chunks[1].pts == MediaSampleStream.base)
        #expect(chunks[2].pts == MediaSampleStream.base + 3 * 3600)
        #expect(chunks[1].bytes.count == (sample.keyframes[1].packet - sample.keyframes[0].packet) * 188)
        #expect(Array(chunks[2].bytes.prefix(188)) == sample.packets[sample.keyframes[1].packet])
        #expect(chunks.flatMap(\.bytes) == sample.bytes)
        #expect(demuxer.keyframes == 2)
        #expect(demuxer.packets == sample.packets.count)
        #expect(demuxer.videoPID == MediaTSWriter.videoPID)
        #expect(demuxer.videoCodec == .h264)
        #expect(demuxer.audioPIDs == [MediaTSWriter.audioPID])
        #expect(demuxer.bytesDiscarded == 0 && demuxer.resyncs == 0 && demuxer.malformed == 0)
        #expect(demuxer.lastPTS == MediaSampleStream.base + 4 * 3600)
        #expect(demuxer.frameTicks == 3600)
        #expect(demuxer.endPTS == MediaSampleStream.base + 5 * 3600)
    }

    @Test func nonKeyChunkCarriesFirstPESPTS() {
        var demuxer = TSDemuxer()
        let cut = (sample.keyframes[0].packet + 3) * 188  // after the IDR, at the audio PES
        _ = demuxer.feed(sample.bytes[..<cut])
        let rest = demuxer.feed(sample.bytes[cut...])
        #expect(rest.first?.keyframe == false)
        #expect(rest.first?.pts == MediaSampleStream.base)  // the audio PES
    }

    @Test func programInfoIsTheLatestPATAndPMT() {
        var demuxer = TSDemuxer()
        #expect(demuxer.programInfo == nil)
        _ = demuxer.feed(sample.bytes)
        // The second copies differ from the first in their continuity counters.
        #expect(sample.patPackets[0] != sample.patPackets[1])
        #expect(demuxer.programInfo == sample.patPackets[1] + sample.pmtPackets[1])
    }

    @Test func ptsExtraction() throws {
        for pts: UInt64 in [0, 1, 90_000, (1 << 32) + 12_345, (1 << 33) - 1] {
            var w = MediaTSWriter()
            let packet = w.pes(pid: 0x100, pts: pts, es: [1, 2, 3])[0]
            let parsed = try TSPacket(packet, at: 0)
            let header = try PESHeader.parse(packet, in: parsed.payload)
            #expect(header.pts == pts)
            #expect(header.streamID == 0xE0)
            #expect(Array(packet[header.payloadStart...]) == [1, 2, 3])
        }
        var w = MediaTSWriter()
        let packet = w.pes(pid: 0x100, pts: nil, es: [9])[0]
        #expect(try PESHeader.parse(packet, in: TSPacket(packet, at: 0).payload).pts == nil)
    }

    @Test func everySplitPointGivesTheSameOutput() {
        var whole = TSDemuxer()
        let expected = whole.feed(sample.bytes).normalized
        let bytes = sample.bytes
        for split in 0...bytes.count {
            var demuxer = TSDemuxer()
            let out = (demuxer.feed(bytes[..<split]) + demuxer.feed(bytes[split...])).normalized
            #expect(out.bytes == expected.bytes, "split at \(split)")
            #expect(out.keys == expected.keys, "split at \(split)")
            #expect(demuxer.programInfo == whole.programInfo)
        }
        var byteByByte = TSDemuxer()
        var out: [MediaChunk] = []
        for byte in bytes {
            out += byteByByte.feed(CollectionOfOne(byte))
            #expect(byteByByte.heldBytes <= 2 * 188 + 2 * 188)
        }
        #expect(out.normalized.bytes == expected.bytes)
        #expect(out.normalized.keys == expected.keys)
        #expect(out.count == sample.packets.count)  // one chunk per completed packet here
    }

    @Test func resynchronisesAfterGarbageBetweenPackets() {
        for garbage: [UInt8] in [[UInt8](repeating: 0, count: 37), [1, 0x47, 2, 3], [0x13]] {
            let at = 5
            let input = sample.packets[..<at].flatMap { $0 } + garbage + sample.packets[at...].flatMap { $0 }
            var demuxer = TSDemuxer()
            let out = demuxer.feed(input)
            #expect(out.flatMap(\.bytes) == sample.bytes)
            #expect(demuxer.resyncs == 1)
            #expect(demuxer.bytesDiscarded == garbage.count)
            #expect(demuxer.keyframes == 2)
        }
    }

    @Test func leadingGarbageIsSkippedWithoutCountingAResync() {
        var input = [UInt8](repeating: 0x47, count: 3) + [1, 2, 3]
        input += sample.bytes
        var demuxer = TSDemuxer()
        let out = demuxer.feed(input)
        #expect(out.flatMap(\.bytes) == sample.bytes)
        #expect(demuxer.bytesDiscarded == 6)
        #expect(demuxer.resyncs == 0)
    }

    @Test func garbageInsideAPacketLosesOnlyThatStretch() {
        var input = sample.bytes
        let at = 7 * 188 + 50
        input.insert(contentsOf: [UInt8](repeating: 0x5A, count: 100), at: at)
        var demuxer = TSDemuxer()
        let out = demuxer.feed(input).flatMap(\.bytes)
        #expect(out.count % 188 == 0)
        #expect(stride(from: 0, to: out.count, by: 188).allSatisfy { out[$0] == 0x47 })
        #expect(demuxer.resyncs == 1)
        // The keyframe after the damage is still found, on its own chunk boundary.
        #expect(demuxer.keyframes == 2)
        #expect(out.count >= sample.bytes.count - 2 * 188)
    }

    @Test func truncatedInputWaitsForTheRest() {
        let bytes = sample.bytes
        var demuxer = TSDemuxer()
        let first = demuxer.feed(bytes.dropLast(100))
        #expect(first.flatMap(\.bytes) == Array(bytes.dropLast(188)))
        #expect(demuxer.heldBytes == 88)  // only the partial packet
        let rest = demuxer.feed(bytes.suffix(100))
        #expect((first + rest).flatMap(\.bytes) == bytes)
        // A stream that just stops is no error: the partial packet is simply held.
        var cut = TSDemuxer()
        _ = cut.feed(bytes.prefix(188 + 187))
        #expect(cut.packets == 1)
    }

    @Test func audioOnlyStreamCutsAtEveryAudioPES() {
        var w = MediaTSWriter()
        var packets = [w.pat(), w.pmt(streams: [(0x0F, MediaTSWriter.audioPID)])]
        for i in 0..<4 {
            packets += w.pes(
                pid: MediaTSWriter.audioPID,
                streamID: 0xC0,
                pts: UInt64(i) * 1920,
                es: [UInt8](repeating: 0x22, count: 300)
            )
        }
        var demuxer = TSDemuxer()
        let chunks = demuxer.feed(packets.flatMap { $0 })
        #expect(chunks.map(\.keyframe) == [false, true, true, true, true])
        #expect(chunks.dropFirst().map(\.pts) == [0, 1920, 3840, 5760])
        #expect(demuxer.videoPID == nil)
        #expect(demuxer.frameTicks == 1920)
    }

    @Test func h265IRAPIsFoundByNALType() {
        var w = MediaTSWriter()
        var packets = [w.pat(), w.pmt(streams: [(0x24, MediaTSWriter.videoPID)])]
        let cra: [UInt8] = [0, 0, 0, 1, 0x2A, 0x01] + [UInt8](repeating: 0xAB, count: 200)  // type 21
        let trail: [UInt8] = [0, 0, 1, 0x02, 0x01] + [UInt8](repeating: 0xAB, count: 200)  // type 1
        packets += w.pes(pid: MediaTSWriter.videoPID, pts: 10, es: trail)
        packets += w.pes(pid: MediaTSWriter.videoPID, pts: 20, es: cra)
        packets += w.pes(pid: MediaTSWriter.videoPID, pts: 30, es: trail)
        var demuxer = TSDemuxer()
        let chunks = demuxer.feed(packets.flatMap { $0 })
        #expect(demuxer.videoCodec == .h265)
        #expect(chunks.map(\.keyframe) == [false, true])
        #expect(chunks[0].pts == 10)
        #expect(chunks[1].pts == 20)
    }

    @Test func nalScannerFindsStartCodesAnywhere() {
        let idr: [UInt8] = [0xAB, 0, 0, 1, 0x65]
        #expect(NALScanner.containsRandomAccess(idr, in: 0..<5, codec: .h264))
        #expect(NALScanner.containsRandomAccess([0, 0, 0, 1, 0x67], in: 0..<5, codec: .h264))  // SPS
        #expect(!NALScanner.containsRandomAccess([0, 0, 0, 1, 0x41], in: 0..<5, codec: .h264))
        #expect(!NALScanner.containsRandomAccess(idr, in: 0..<4, codec: .h264))  // header cut off
        #expect(!NALScanner.containsRandomAccess([0, 0, 2, 0x65, 0, 1, 0x65], in: 0..<7, codec: .h264))
        #expect(NALScanner.containsRandomAccess([9, 9, 9, 0, 0, 1, 0x25], in: 0..<7, codec: .h264))
        #expect(!NALScanner.containsRandomAccess([], in: 0..<0, codec: .h265))
    }

    @Test func absurdLengthsAreRefusedWithoutCrashing() {
        var w = MediaTSWriter()
        var pat = MediaTSWriter.patSection(pmtPID: MediaTSWriter.pmtPID)
        pat[1] = 0xBF
        pat[2] = 0xFF  // section_length 4095
        var pmt = MediaTSWriter.pmtSection(streams: [(0x1B, MediaTSWriter.videoPID)])
        pmt[10] = 0xFF
        pmt[11] = 0xFF  // program_info_length past the section
        var esInfo = MediaTSWriter.pmtSection(streams: [(0x1B, MediaTSWriter.videoPID), (0x0F, 0x101)])
        esInfo[15] = 0xFF  // first ES_info_length past the section: the second stream is unreachable
        var badPointer = w.pat()
        badPointer[4] = 200
        var badAdaptation = w.pes(pid: MediaTSWriter.videoPID, pts: 1, es: [1], randomAccess: true)[0]
        badAdaptation[4] = 255
        let input =
            w.psi(pid: 0, section: pat) + badPointer + w.pat() + w.psi(pid: MediaTSWriter.pmtPID, section: pmt)
            + w.psi(pid: MediaTSWriter.pmtPID, section: esInfo) + badAdaptation
        var demuxer = TSDemuxer()
        let out = demuxer.feed(input)
        #expect(out.flatMap(\.bytes) == input)
        #expect(demuxer.videoPID == MediaTSWriter.videoPID)
        #expect(demuxer.audioPIDs == [])
        #expect(demuxer.keyframes == 0)
        #expect(demuxer.malformed >= 2)
        #expect(throws: TSParseError.badAdaptationFieldLength(255)) { try TSPacket(badAdaptation, at: 0) }
        #expect(throws: TSParseError.badSectionLength(4095)) { try PATSection.parse(pat) }
        #expect(throws: TSParseError.badSectionLength(4095)) { try PMTSection.parse(pmt) }
    }

    @Test func multiPacketSectionsAreReassembled() {
        // A PMT with 60 streams (313 bytes) spans two packets.
        let streams = (0..<60).map { (type: UInt8($0 == 0 ? 0x1B : 0x0F), pid: UInt16(0x200 + $0)) }
        let section = MediaTSWriter.pmtSection(streams: streams)
        var w = MediaTSWriter()
        let payload = [0] + section
        let first = w.packet(pid: MediaTSWriter.pmtPID, unitStart: true, payload: Array(payload[..<184]))
        var tail = Array(payload[184...])
        tail += [UInt8](repeating: 0xFF, count: 184 - tail.count)
        let second = w.packet(pid: MediaTSWriter.pmtPID, unitStart: false, payload: tail)
        let pat = w.pat()
        var demuxer = TSDemuxer()
        _ = demuxer.feed(pat + first + second)
        #expect(demuxer.videoPID == 0x200)
        #expect(demuxer.audioPIDs.count == 59)
        #expect(demuxer.programInfo == pat + first + second)
    }

    @Test func randomBytesNeverCrashAndHoldBoundedMemory() {
        var rng = LiveTestRNG(seed: 0x5EED)
        var demuxer = TSDemuxer()
        var total = 0
        for _ in 0..<300 {
            let piece = rng.bytes(Int.random(in: 1...2000, using: &rng))
            for chunk in demuxer.feed(piece) {
                total += chunk.bytes.count
                #expect(chunk.bytes.count % 188 == 0)
            }
            #expect(demuxer.heldBytes <= 188 + 2 * (1024 + 7 * 188))
        }
        #expect(total % 188 == 0)
    }

    @Test func mutatedStreamsNeverCrash() {
        var base: [UInt8] = []
        for _ in 0..<4 { base += MediaSampleStream().bytes }
        for seed in UInt64(1)...40 {
            var rng = LiveTestRNG(seed: seed)
            var input = base
            for _ in 0..<(input.count / 50) {
                input[Int.random(in: 0..<input.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            var demuxer = TSDemuxer()
            var offset = 0
            while offset < input.count {
                let end = min(input.count, offset + Int.random(in: 1...700, using: &rng))
                for chunk in demuxer.feed(input[offset..<end]) {
                    #expect(chunk.bytes.count % 188 == 0 && chunk.bytes.first == 0x47)
                }
                #expect(demuxer.heldBytes <= 188 + 2 * (1024 + 7 * 188))
                offset = end
            }
        }
    }
}
