/// One coded frame of a track, as MPEG-TS carried it: a video access unit (Annex B) or an audio
/// PES's ADTS frames, with its 90 kHz timestamps.
struct AccessUnit: Equatable {
    enum Track: Equatable { case video, audio }
    var track: Track
    var pts: UInt64
    /// Equals `pts` unless the stream reorders frames (B-frames).
    var dts: UInt64
    var bytes: [UInt8]
}

/// Reassembles the PES packets of one video and one audio PID from whole transport packets
/// into access units. A PES is complete when the next one on its PID begins, so a frame is
/// handed on one frame late (a PES with a declared length is handed on as soon as it is whole).
///
/// Memory is bounded: a PES longer than `maximumPESBytes` is dropped (counted in `dropped`).
struct ElementaryStreams {
    static let maximumPESBytes = 8 << 20

    var videoPID: UInt16?
    var audioPID: UInt16?
    /// PES packets dropped: too long, or begun without a timestamp.
    private(set) var dropped = 0

    private struct Assembly {
        var header: PESHeader
        var declaredLength: Int?
        var bytes: [UInt8] = []
        var overflowed = false
    }
    private var video: Assembly?
    private var audio: Assembly?

    init(videoPID: UInt16?, audioPID: UInt16?) {
        self.videoPID = videoPID
        self.audioPID = audioPID
    }

    /// Consumes whole 188-byte packets (a `MediaChunk`'s bytes); returns the access units
    /// completed, in the order their PES ended.
    mutating func feed(_ packets: [UInt8]) -> [AccessUnit] {
        var out: [AccessUnit] = []
        var offset = 0
        while offset + TSPacket.size <= packets.count {
            defer { offset += TSPacket.size }
            guard packets[offset] == TSPacket.syncByte, let packet = try? TSPacket(packets, at: offset),
                !packet.transportError, !packet.scrambled, !packet.payload.isEmpty
            else { continue }
            // The assembly is taken out while it is worked on (exclusive access to self).
            if packet.pid == videoPID {
                var assembly = video.take()
                consume(packet, packets, into: &assembly, track: .video, out: &out)
                video = assembly
            } else if packet.pid == audioPID {
                var assembly = audio.take()
                consume(packet, packets, into: &assembly, track: .audio, out: &out)
                audio = assembly
            }
        }
        return out
    }

    /// The PES being assembled on each track, handed on as complete (the end of the stream).
    mutating func flush() -> [AccessUnit] {
        var out: [AccessUnit] = []
        if let unit = finish(video, track: .video) { out.append(unit) }
        if let unit = finish(audio, track: .audio) { out.append(unit) }
        video = nil
        audio = nil
        return out
    }

    private mutating func consume(
        _ packet: TSPacket,
        _ bytes: [UInt8],
        into assembly: inout Assembly?,
        track: AccessUnit.Track,
        out: inout [AccessUnit]
    ) {
        if packet.payloadUnitStart {
            if let unit = finish(assembly, track: track) { out.append(unit) }
            assembly = nil
            guard let header = try? PESHeader.parse(bytes, in: packet.payload) else { return }
            let base = packet.payload.lowerBound
            let length = Int(bytes[base + 4]) << 8 | Int(bytes[base + 5])
            // PES_packet_length counts from after the length field; 0 means unbounded (video).
            let declared = length == 0 ? nil : length - (header.payloadStart - base - 6)
            var next = Assembly(header: header, declaredLength: declared)
            next.bytes.append(contentsOf: bytes[header.payloadStart..<packet.payload.upperBound])
            assembly = next
        } else if assembly != nil {
            if assembly!.bytes.count + packet.payload.count > Self.maximumPESBytes {
                assembly!.overflowed = true
                assembly!.bytes = []
            } else if !assembly!.overflowed {
                assembly!.bytes.append(contentsOf: bytes[packet.payload])
            }
        }
        if let declared = assembly?.declaredLength, let held = assembly?.bytes.count, held >= declared {
            if let unit = finish(assembly, track: track) { out.append(unit) }
            assembly = nil
        }
    }

    private mutating func finish(_ assembly: Assembly?, track: AccessUnit.Track) -> AccessUnit? {
        guard let assembly else { return nil }
        guard !assembly.overflowed, let pts = assembly.header.pts, !assembly.bytes.isEmpty else {
            dropped += 1
            return nil
        }
        var bytes = assembly.bytes
        if let declared = assembly.declaredLength, bytes.count > declared { bytes.removeLast(bytes.count - declared) }
        return AccessUnit(track: track, pts: pts, dts: assembly.header.dts ?? pts, bytes: bytes)
    }
}
