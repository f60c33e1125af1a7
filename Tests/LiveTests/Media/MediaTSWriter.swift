@testable import Live

/// Builds MPEG-TS packets by hand, so that tests know exactly which packet is which.
struct MediaTSWriter {
    static let pmtPID: UInt16 = 0x1000
    static let videoPID: UInt16 = 0x0100
    static let audioPID: UInt16 = 0x0101

    private var continuity: [UInt16: UInt8] = [:]

    /// One packet; the payload (≤ 184 bytes, ≤ 182 with `randomAccess`) is padded with
    /// adaptation-field stuffing, as muxers do for the last packet of a PES.
    mutating func packet(pid: UInt16, unitStart: Bool, randomAccess: Bool = false, payload: [UInt8]) -> [UInt8] {
        precondition(payload.count <= 184 && (!randomAccess || payload.count <= 182))
        let cc = continuity[pid, default: 0]
        continuity[pid] = (cc + 1) & 0x0F
        let needsAdaptation = randomAccess || payload.count < 184
        var out: [UInt8] = [
            0x47,
            (unitStart ? 0x40 : 0) | UInt8(pid >> 8),
            UInt8(pid & 0xFF),
            (needsAdaptation ? 0x30 : 0x10) | cc,
        ]
        if needsAdaptation {
            let length = 183 - payload.count
            out.append(UInt8(length))
            if length > 0 {
                out.append(randomAccess ? 0x40 : 0x00)
                out += [UInt8](repeating: 0xFF, count: length - 1)
            }
        }
        out += payload
        precondition(out.count == 188)
        return out
    }

    /// A PSI section in one packet: pointer 0, the section, 0xFF stuffing.
    mutating func psi(pid: UInt16, section: [UInt8]) -> [UInt8] {
        var payload = [0] + section
        payload += [UInt8](repeating: 0xFF, count: 184 - payload.count)
        return packet(pid: pid, unitStart: true, payload: payload)
    }

    mutating func pat(pmtPID: UInt16 = pmtPID) -> [UInt8] {
        psi(pid: 0, section: Self.patSection(pmtPID: pmtPID))
    }

    mutating func pmt(streams: [(type: UInt8, pid: UInt16)], pmtPID: UInt16 = pmtPID) -> [UInt8] {
        psi(pid: pmtPID, section: Self.pmtSection(streams: streams))
    }

    static func patSection(pmtPID: UInt16) -> [UInt8] {
        withCRC([
            0x00, 0xB0, 13, 0x00, 0x01, 0xC1, 0x00, 0x00, 0x00, 0x01, 0xE0 | UInt8(pmtPID >> 8), UInt8(pmtPID & 0xFF),
        ])
    }

    static func pmtSection(streams: [(type: UInt8, pid: UInt16)], pcrPID: UInt16 = videoPID) -> [UInt8] {
        let length = 9 + 5 * streams.count + 4
        var section: [UInt8] = [0x02, 0xB0 | UInt8(length >> 8), UInt8(length & 0xFF), 0x00, 0x01, 0xC1, 0x00, 0x00]
        section += [0xE0 | UInt8(pcrPID >> 8), UInt8(pcrPID & 0xFF), 0xF0, 0x00]
        for stream in streams {
            section += [stream.type, 0xE0 | UInt8(stream.pid >> 8), UInt8(stream.pid & 0xFF), 0xF0, 0x00]
        }
        return withCRC(section)
    }

    /// Appends the MPEG-2 CRC-32 (poly 0x04C11DB7, no reflection), as real muxers do.
    static func withCRC(_ bytes: [UInt8]) -> [UInt8] {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte) << 24
            for _ in 0..<8 { crc = crc & 0x8000_0000 != 0 ? (crc << 1) ^ 0x04C1_1DB7 : crc << 1 }
        }
        return bytes + [UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)]
    }

    static func encodeTimestamp(_ pts: UInt64) -> [UInt8] {
        [
            0x21 | UInt8((pts >> 29) & 0x0E),
            UInt8((pts >> 22) & 0xFF),
            UInt8((pts >> 14) & 0xFE) | 1,
            UInt8((pts >> 7) & 0xFF),
            UInt8((pts << 1) & 0xFE) | 1,
        ]
    }

    /// A PES with a PTS, split into packets; the first may carry the random access indicator.
    mutating func pes(
        pid: UInt16,
        streamID: UInt8 = 0xE0,
        pts: UInt64?,
        es: [UInt8],
        randomAccess: Bool = false
    )
        -> [[UInt8]]
    {
        var pes: [UInt8] = [0, 0, 1, streamID, 0, 0, 0x80]
        if let pts {
            pes += [0x80, 5] + Self.encodeTimestamp(pts)
        } else {
            pes += [0x00, 0]
        }
        pes += es
        var packets: [[UInt8]] = []
        var offset = 0
        while offset < pes.count {
            let first = offset == 0
            let room = first && randomAccess ? 182 : 184
            let take = min(room, pes.count - offset)
            packets.append(
                packet(
                    pid: pid,
                    unitStart: first,
                    randomAccess: first && randomAccess,
                    payload: Array(pes[offset..<(offset + take)])
                )
            )
            offset += take
        }
        return packets
    }

    /// An H.264 access unit: AUD, then one slice NAL of `nalType` padded to `size` bytes with a
    /// filler that cannot form a start code.
    static func h264AccessUnit(nalType: UInt8, size: Int = 300) -> [UInt8] {
        let head: [UInt8] = [0, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 1, 0x60 | nalType]
        return head + [UInt8](repeating: 0xAB, count: max(0, size - head.count))
    }
}

/// A small known stream: PAT, PMT (H.264 + AAC), an IDR flagged by RAI, audio, P frames, PAT/PMT
/// again, an IDR found only by its NAL type, and one more P frame.
struct MediaSampleStream {
    var packets: [[UInt8]] = []
    /// Index of the first packet of each keyframe, with its PTS.
    var keyframes: [(packet: Int, pts: UInt64)] = []
    var patPackets: [[UInt8]] = []
    var pmtPackets: [[UInt8]] = []

    var bytes: [UInt8] { packets.flatMap { $0 } }

    static let base: UInt64 = 900_000

    init() {
        var w = MediaTSWriter()
        let streams: [(type: UInt8, pid: UInt16)] = [(0x1B, MediaTSWriter.videoPID), (0x0F, MediaTSWriter.audioPID)]
        func programInfo(_ w: inout MediaTSWriter) {
            let pat = w.pat()
            let pmt = w.pmt(streams: streams)
            patPackets.append(pat)
            pmtPackets.append(pmt)
            packets += [pat, pmt]
        }
        func video(_ w: inout MediaTSWriter, frame: UInt64, idr: Bool, rai: Bool) {
            let pts = Self.base + frame * 3600
            if idr { keyframes.append((packets.count, pts)) }
            packets += w.pes(
                pid: MediaTSWriter.videoPID,
                pts: pts,
                es: MediaTSWriter.h264AccessUnit(nalType: idr ? 5 : 1, size: idr ? 500 : 250),
                randomAccess: rai
            )
        }
        programInfo(&w)
        video(&w, frame: 0, idr: true, rai: true)
        packets += w.pes(
            pid: MediaTSWriter.audioPID,
            streamID: 0xC0,
            pts: Self.base,
            es: [UInt8](repeating: 0x11, count: 90)
        )
        video(&w, frame: 1, idr: false, rai: false)
        video(&w, frame: 2, idr: false, rai: false)
        programInfo(&w)
        video(&w, frame: 3, idr: true, rai: false)
        video(&w, frame: 4, idr: false, rai: false)
    }
}

extension [MediaChunk] {
    /// What must not depend on how the input was split: the bytes, and where each keyframe
    /// starts with its PTS.
    var normalized: (bytes: [UInt8], keys: [Int: UInt64?]) {
        var bytes: [UInt8] = []
        var keys: [Int: UInt64?] = [:]
        for chunk in self {
            if chunk.keyframe { keys[bytes.count] = chunk.pts }
            bytes += chunk.bytes
        }
        return (bytes, keys)
    }
}
