/// Writes MPEG-TS (ISO/IEC 13818-1) from H.264 access units and AAC frames: the form every
/// other part of the media pipeline reads (the TS ingest's own), so media that arrives another
/// way (RTMP) joins the same demuxer, GOP cache, HLS and recording.
///
/// PAT and PMT go before every keyframe (a segment cut there decodes alone); the first packet
/// of a keyframe's PES carries `random_access_indicator`; PCR rides on the timing stream's PES
/// starts (video, else audio).
public struct TSMuxer: Sendable {
    public static let pmtPID: UInt16 = 0x1000
    public static let videoPID: UInt16 = 0x0100
    public static let audioPID: UInt16 = 0x0101
    /// How far PCR runs ahead of decoding: the decoder's buffering margin.
    static let pcrLead: UInt64 = 9_000

    public let hasVideo: Bool
    public let hasAudio: Bool
    private var continuity: [UInt16: UInt8] = [:]
    private var wrotePSI = false

    public init(video: Bool, audio: Bool) {
        hasVideo = video
        hasAudio = audio
    }

    private var pcrPID: UInt16 { hasVideo ? Self.videoPID : Self.audioPID }

    /// One H.264 access unit in Annex B form (start codes); times in 90 kHz.
    public mutating func video(_ annexB: [UInt8], pts: UInt64, dts: UInt64, keyframe: Bool) -> [UInt8] {
        var out: [UInt8] = []
        if keyframe || !wrotePSI { out += programInfo() }
        out += pes(pid: Self.videoPID, streamID: 0xE0, es: annexB, pts: pts, dts: dts, randomAccess: keyframe)
        return out
    }

    /// AAC frames with their ADTS headers; `pts` of the first.
    public mutating func audio(_ adts: [UInt8], pts: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        // Audio alone: every PES is a place to start.
        if !hasVideo || !wrotePSI { out += programInfo() }
        out += pes(pid: Self.audioPID, streamID: 0xC0, es: adts, pts: pts, dts: pts, randomAccess: !hasVideo)
        return out
    }

    /// PAT and PMT, one packet each.
    mutating func programInfo() -> [UInt8] {
        wrotePSI = true
        let pat = Self.section(
            [0x00, 0xB0, 13, 0x00, 0x01, 0xC1, 0x00, 0x00, 0x00, 0x01]
                + [0xE0 | UInt8(Self.pmtPID >> 8), UInt8(Self.pmtPID & 0xFF)]
        )
        var streams: [(type: UInt8, pid: UInt16)] = []
        if hasVideo { streams.append((0x1B, Self.videoPID)) }
        if hasAudio { streams.append((0x0F, Self.audioPID)) }
        let length = 9 + 5 * streams.count + 4
        var pmt: [UInt8] = [0x02, 0xB0 | UInt8(length >> 8), UInt8(length & 0xFF), 0x00, 0x01, 0xC1, 0x00, 0x00]
        pmt += [0xE0 | UInt8(pcrPID >> 8), UInt8(pcrPID & 0xFF), 0xF0, 0x00]
        for stream in streams {
            pmt += [stream.type, 0xE0 | UInt8(stream.pid >> 8), UInt8(stream.pid & 0xFF), 0xF0, 0x00]
        }
        return psiPacket(pid: 0, section: pat) + psiPacket(pid: Self.pmtPID, section: Self.section(pmt))
    }

    private mutating func psiPacket(pid: UInt16, section: [UInt8]) -> [UInt8] {
        var payload: [UInt8] = [0] + section
        payload += repeatElement(0xFF, count: 184 - payload.count)
        return header(pid: pid, unitStart: true, adaptation: nil) + payload
    }

    /// A PES split into packets. The first packet's adaptation field carries the random access
    /// flag and, on the timing stream, the PCR; the last is padded with adaptation stuffing.
    private mutating func pes(
        pid: UInt16,
        streamID: UInt8,
        es: [UInt8],
        pts: UInt64,
        dts: UInt64,
        randomAccess: Bool
    ) -> [UInt8] {
        var head: [UInt8] = [0, 0, 1, streamID]
        let withDTS = dts != pts
        let headerData = withDTS ? 10 : 5
        let length = 3 + headerData + es.count
        // Video PES may be longer than 16 bits can say: 0 means "until the next PES".
        let declared = streamID >= 0xE0 && length > 0xFFFF ? 0 : length
        head += [UInt8(declared >> 8 & 0xFF), UInt8(declared & 0xFF), 0x80, withDTS ? 0xC0 : 0x80, UInt8(headerData)]
        head += Self.timestamp(pts, marker: withDTS ? 0x31 : 0x21)
        if withDTS { head += Self.timestamp(dts, marker: 0x11) }

        var out: [UInt8] = []
        out.reserveCapacity((head.count + es.count) / 184 * 188 + 376)
        var first = true
        var offset = 0
        let total = head.count + es.count
        while offset < total || first {
            var adaptation: [UInt8]?
            if first, randomAccess || pid == pcrPID {
                var field: [UInt8] = [(randomAccess ? 0x40 : 0) | (pid == pcrPID ? 0x10 : 0)]
                if pid == pcrPID { field += Self.pcr((dts &- Self.pcrLead) & (MediaClock.wrap - 1)) }
                adaptation = field
            }
            let room = 184 - (adaptation.map { $0.count + 1 } ?? 0)
            let take = min(room, total - offset)
            if take < room {
                // Stuffing: the adaptation field grows (or appears) so the packet is full.
                if let field = adaptation {
                    adaptation = field + repeatElement(0xFF, count: room - take)
                } else {
                    let space = 184 - take  // its length byte and the field itself
                    adaptation = space == 1 ? [] : [0x00] + repeatElement(0xFF, count: space - 2)
                }
            }
            out += header(pid: pid, unitStart: first, adaptation: adaptation)
            for i in offset..<(offset + take) { out.append(i < head.count ? head[i] : es[i - head.count]) }
            offset += take
            first = false
        }
        return out
    }

    /// The 4-byte packet header and the adaptation field (its length byte first), if any.
    private mutating func header(pid: UInt16, unitStart: Bool, adaptation: [UInt8]?) -> [UInt8] {
        let cc = continuity[pid, default: 0]
        continuity[pid] = (cc + 1) & 0x0F
        var out: [UInt8] = [
            0x47, (unitStart ? 0x40 : 0) | UInt8(pid >> 8), UInt8(pid & 0xFF), (adaptation == nil ? 0x10 : 0x30) | cc,
        ]
        if let adaptation {
            out.append(UInt8(adaptation.count))
            out += adaptation
        }
        return out
    }

    /// The 5-byte PTS/DTS form: 4 bits of marker, then 3 + 15 + 15 bits each followed by a 1.
    static func timestamp(_ value: UInt64, marker: UInt8) -> [UInt8] {
        [
            marker | UInt8((value >> 29) & 0x0E),
            UInt8((value >> 22) & 0xFF),
            UInt8((value >> 14) & 0xFE) | 1,
            UInt8((value >> 7) & 0xFF),
            UInt8((value << 1) & 0xFE) | 1,
        ]
    }

    /// PCR: a 33-bit base at 90 kHz, 6 reserved bits, a 9-bit extension (0).
    static func pcr(_ base: UInt64) -> [UInt8] {
        [
            UInt8((base >> 25) & 0xFF), UInt8((base >> 17) & 0xFF), UInt8((base >> 9) & 0xFF),
            UInt8((base >> 1) & 0xFF), UInt8((base & 1) << 7) | 0x7E, 0x00,
        ]
    }

    /// A PSI section with its MPEG-2 CRC-32 (poly 0x04C11DB7, not reflected).
    static func section(_ bytes: [UInt8]) -> [UInt8] {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte) << 24
            for _ in 0..<8 { crc = crc & 0x8000_0000 != 0 ? (crc << 1) ^ 0x04C1_1DB7 : crc << 1 }
        }
        return bytes + [UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)]
    }
}
