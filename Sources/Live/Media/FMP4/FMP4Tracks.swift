/// The tracks of a fragmented MP4 stream and the boxes that describe them once (the init
/// segment: `ftyp` + `moov`, ISO/IEC 14496-12 and 14496-15 for `avcC`).
struct FMP4Tracks: Equatable, Sendable {
    struct Video: Equatable, Sendable {
        var sps: [UInt8]
        var pps: [UInt8]
        var parameters: H264SequenceParameters
        /// 90 kHz, the clock of MPEG-TS timestamps: no rounding from PTS to decode times.
        static let timescale: UInt32 = 90_000
    }

    struct Audio: Equatable, Sendable {
        var config: ADTSFrame.Config
        /// The sample rate: every AAC frame then lasts exactly 1,024 ticks.
        var timescale: UInt32 { UInt32(config.sampleRate) }
    }

    var video: Video?
    var audio: Audio?

    var videoTrackID: UInt32 { 1 }
    var audioTrackID: UInt32 { video == nil ? 1 : 2 }

    /// `ftyp` and `moov`: what a player needs before the first fragment.
    var initSegment: [UInt8] {
        var w = MP4Writer(capacity: 1024)
        w.box("ftyp") { w in
            w.fourCC("isom")
            w.u32(0x200)
            w.fourCC("isom")
            w.fourCC("iso6")
            w.fourCC("mp41")
            if video != nil { w.fourCC("avc1") }
        }
        w.box("moov") { w in
            w.fullBox("mvhd", version: 0, flags: 0) { w in
                w.u32(0)  // creation_time
                w.u32(0)  // modification_time
                w.u32(1000)  // timescale
                w.u32(0)  // duration: unknown, it is live
                w.u32(0x0001_0000)  // rate 1.0
                w.u16(0x0100)  // volume 1.0
                w.zeros(10)
                w.unityMatrix()
                w.zeros(24)
                w.u32(audio != nil ? audioTrackID + 1 : videoTrackID + 1)  // next_track_ID
            }
            if let video { trak(&w, video: video) }
            if let audio { trak(&w, audio: audio) }
            w.box("mvex") { w in
                if video != nil { trex(&w, id: videoTrackID) }
                if audio != nil { trex(&w, id: audioTrackID) }
            }
        }
        return w.bytes
    }

    private func trex(_ w: inout MP4Writer, id: UInt32) {
        w.fullBox("trex", version: 0, flags: 0) { w in
            w.u32(id)
            w.u32(1)  // default_sample_description_index
            w.u32(0)
            w.u32(0)
            w.u32(0)
        }
    }

    private func tkhd(_ w: inout MP4Writer, id: UInt32, audio: Bool, width: Int, height: Int) {
        // Flags: enabled, in movie.
        w.fullBox("tkhd", version: 0, flags: 0x3) { w in
            w.u32(0)
            w.u32(0)
            w.u32(id)
            w.u32(0)
            w.u32(0)  // duration
            w.zeros(8)
            w.u16(0)  // layer
            w.u16(0)  // alternate_group
            w.u16(audio ? 0x0100 : 0)  // volume
            w.u16(0)
            w.unityMatrix()
            w.u32(UInt32(width) << 16)
            w.u32(UInt32(height) << 16)
        }
    }

    private func mdhd(_ w: inout MP4Writer, timescale: UInt32) {
        w.fullBox("mdhd", version: 0, flags: 0) { w in
            w.u32(0)
            w.u32(0)
            w.u32(timescale)
            w.u32(0)
            w.u16(0x55C4)  // language "und"
            w.u16(0)
        }
    }

    private func hdlr(_ w: inout MP4Writer, _ type: StaticString, name: String) {
        w.fullBox("hdlr", version: 0, flags: 0) { w in
            w.u32(0)
            w.fourCC(type)
            w.zeros(12)
            w.append(Array(name.utf8))
            w.u8(0)
        }
    }

    /// `dinf` and the empty sample tables of a fragmented track around its sample entry.
    private func tables(_ w: inout MP4Writer, entry: (inout MP4Writer) -> Void) {
        w.box("dinf") { w in
            w.fullBox("dref", version: 0, flags: 0) { w in
                w.u32(1)
                w.fullBox("url ", version: 0, flags: 1) { _ in }
            }
        }
        w.box("stbl") { w in
            w.fullBox("stsd", version: 0, flags: 0) { w in
                w.u32(1)
                entry(&w)
            }
            w.fullBox("stts", version: 0, flags: 0) { w in w.u32(0) }
            w.fullBox("stsc", version: 0, flags: 0) { w in w.u32(0) }
            w.fullBox("stsz", version: 0, flags: 0) { w in
                w.u32(0)
                w.u32(0)
            }
            w.fullBox("stco", version: 0, flags: 0) { w in w.u32(0) }
        }
    }

    /// What differs between the video and the audio `trak`.
    private struct TrackKind {
        var id: UInt32
        var audio: Bool
        var width = 0
        var height = 0
        var timescale: UInt32
        var handler: StaticString
        var name: String
    }

    /// A `trak` around its sample entry: header, media header, handler, media information.
    private func trak(_ w: inout MP4Writer, _ kind: TrackKind, entry: (inout MP4Writer) -> Void) {
        w.box("trak") { w in
            tkhd(&w, id: kind.id, audio: kind.audio, width: kind.width, height: kind.height)
            w.box("mdia") { w in
                mdhd(&w, timescale: kind.timescale)
                hdlr(&w, kind.handler, name: kind.name)
                w.box("minf") { w in
                    if kind.audio {
                        w.fullBox("smhd", version: 0, flags: 0) { w in w.u32(0) }
                    } else {
                        w.fullBox("vmhd", version: 0, flags: 1) { w in w.zeros(8) }
                    }
                    tables(&w, entry: entry)
                }
            }
        }
    }

    private func trak(_ w: inout MP4Writer, video: Video) {
        let size = video.parameters
        let kind = TrackKind(
            id: videoTrackID,
            audio: false,
            width: size.width,
            height: size.height,
            timescale: Video.timescale,
            handler: "vide",
            name: "Qunbo video"
        )
        trak(&w, kind) { w in
            w.box("avc1") { w in
                w.zeros(6)
                w.u16(1)  // data_reference_index
                w.zeros(16)
                w.u16(UInt16(size.width))
                w.u16(UInt16(size.height))
                w.u32(0x0048_0000)  // 72 dpi
                w.u32(0x0048_0000)
                w.u32(0)
                w.u16(1)  // frame_count
                w.zeros(32)  // compressorname
                w.u16(0x0018)  // depth
                w.u16(0xFFFF)  // pre_defined = -1
                w.box("avcC") { w in
                    w.u8(1)
                    w.u8(size.profile)
                    w.u8(size.compatibility)
                    w.u8(size.level)
                    w.u8(0xFF)  // 4-byte NAL lengths
                    w.u8(0xE1)  // one SPS
                    w.u16(UInt16(video.sps.count))
                    w.append(video.sps)
                    w.u8(1)  // one PPS
                    w.u16(UInt16(video.pps.count))
                    w.append(video.pps)
                }
            }
        }
    }

    private func trak(_ w: inout MP4Writer, audio: Audio) {
        let kind = TrackKind(
            id: audioTrackID,
            audio: true,
            timescale: audio.timescale,
            handler: "soun",
            name: "Qunbo audio"
        )
        trak(&w, kind) { w in
            w.box("mp4a") { w in
                w.zeros(6)
                w.u16(1)
                w.zeros(8)
                w.u16(UInt16(audio.config.channels))
                w.u16(16)  // samplesize
                w.u16(0)
                w.u16(0)
                w.u32(UInt32(min(audio.config.sampleRate, 65535)) << 16)
                esds(&w, config: audio.config.audioSpecificConfig)
            }
        }
    }

    /// The MPEG-4 descriptors of an AAC track (ISO/IEC 14496-1 §7.2.6), sizes in one byte:
    /// every one here is far below 128.
    private func esds(_ w: inout MP4Writer, config: [UInt8]) {
        w.fullBox("esds", version: 0, flags: 0) { w in
            let decoderSpecific = 2 + config.count
            let decoderConfig = 2 + 13 + decoderSpecific
            let sl = 3
            w.u8(0x03)  // ES_Descriptor
            w.u8(UInt8(3 + decoderConfig + sl))
            w.u16(0)  // ES_ID
            w.u8(0)  // flags
            w.u8(0x04)  // DecoderConfigDescriptor
            w.u8(UInt8(13 + decoderSpecific))
            w.u8(0x40)  // MPEG-4 audio
            w.u8(0x15)  // audio stream
            w.u24(0)  // bufferSizeDB
            w.u32(0)  // maxBitrate
            w.u32(0)  // avgBitrate
            w.u8(0x05)  // DecoderSpecificInfo
            w.u8(UInt8(config.count))
            w.append(config)
            w.u8(0x06)  // SLConfigDescriptor
            w.u8(1)
            w.u8(0x02)
        }
    }
}
