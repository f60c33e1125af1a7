/// Splits a continuous MPEG-TS byte stream (an ingest body, arriving in pieces split anywhere)
/// into `MediaChunk`s that begin at keyframes, learning the program's streams from PAT/PMT.
///
/// It never rewrites packets: the bytes out are the bytes in, minus anything that is not a
/// packet. Memory held between calls is at most one unconfirmed packet plus two PSI sections,
/// whatever the input, so a hostile or broken ingest cannot grow it.
public struct TSDemuxer: Sendable {
    /// Packets accepted and forwarded.
    public private(set) var packets = 0
    /// Bytes dropped because they were not part of an aligned packet.
    public private(set) var bytesDiscarded = 0
    /// Times packet alignment was lost (a boundary without a sync byte) and had to be found again.
    public private(set) var resyncs = 0
    /// Keyframes (random access points) seen.
    public private(set) var keyframes = 0
    /// Packets, PSI sections or PES headers that could not be parsed (their bytes are forwarded).
    public private(set) var malformed = 0

    /// The video elementary stream's PID, once a PMT named one.
    public private(set) var videoPID: UInt16?
    /// Its codec, when the demuxer can read its NAL units.
    public private(set) var videoCodec: TSVideoCodec?
    /// Audio PIDs in PMT order.
    public private(set) var audioPIDs: [UInt16] = []
    /// The latest PTS on the timing stream (video, else the first audio stream), wrap-aware.
    public private(set) var lastPTS: UInt64?
    /// The smallest positive step between successive PTS on the timing stream: one frame.
    public private(set) var frameTicks: UInt64?

    private var pending: [UInt8] = []
    private var synced = false
    private var pmtPID: UInt16?
    private var patAssembler = PSISectionAssembler()
    private var pmtAssembler = PSISectionAssembler()
    private var patPackets: [UInt8]?
    private var pmtPackets: [UInt8]?
    private var previousTimingPTS: UInt64?

    public init() {}

    /// The latest PAT and PMT packets, verbatim: sent before anything else to a viewer starting
    /// mid-stream and at the head of each HLS segment so that it decodes alone.
    public var programInfo: [UInt8]? {
        guard let patPackets, let pmtPackets else { return nil }
        return patPackets + pmtPackets
    }

    /// Where presentation of the stream seen so far ends: the last PTS plus one frame.
    public var endPTS: UInt64? {
        guard let lastPTS else { return nil }
        return MediaClock.advance(lastPTS, by: frameTicks ?? 0)
    }

    /// Bytes held between calls (the partial packet and PSI reassembly), for the memory bound.
    var heldBytes: Int { pending.count + patAssembler.heldBytes + pmtAssembler.heldBytes }

    /// Consumes the next piece of the stream. Chunks keep the input's grouping, except that a
    /// keyframe always begins a new chunk; a trailing partial packet waits for the next call.
    public mutating func feed(_ bytes: some Collection<UInt8>) -> [MediaChunk] {
        var work = pending
        pending = []
        work.append(contentsOf: bytes)
        let size = TSPacket.size
        let count = work.count
        var builder = ChunkBuilder()
        var i = 0
        while i < count {
            if synced {
                guard work[i] == TSPacket.syncByte else {
                    synced = false
                    resyncs += 1
                    continue
                }
                guard i + size <= count else { break }
                accept(work, at: i, into: &builder)
                i += size
            } else {
                // Alignment is trusted only when sync bytes sit at two consecutive boundaries;
                // a lone 0x47 inside garbage or payload is common.
                guard let candidate = work[i...].firstIndex(of: TSPacket.syncByte) else {
                    bytesDiscarded += count - i
                    i = count
                    break
                }
                bytesDiscarded += candidate - i
                i = candidate
                guard i + size < count else { break }
                if work[i + size] == TSPacket.syncByte {
                    synced = true
                    accept(work, at: i, into: &builder)
                    i += size
                } else {
                    bytesDiscarded += 1
                    i += 1
                }
            }
        }
        if i < count { pending = Array(work[i...]) }
        return builder.finish()
    }

    private mutating func accept(_ work: [UInt8], at start: Int, into builder: inout ChunkBuilder) {
        packets += 1
        let (keyframe, pts) = inspect(work, at: start)
        builder.add(work[start..<(start + TSPacket.size)], keyframe: keyframe, pts: pts)
    }

    /// Updates the stream knowledge from one packet; says whether it starts a keyframe and
    /// which PTS its PES header carries.
    private mutating func inspect(_ work: [UInt8], at start: Int) -> (keyframe: Bool, pts: UInt64?) {
        let packet: TSPacket
        do {
            packet = try TSPacket(work, at: start)
        } catch {
            malformed += 1
            return (false, nil)
        }
        guard !packet.transportError, packet.pid != TSPacket.nullPID else { return (false, nil) }
        let raw = work[start..<(start + TSPacket.size)]
        if packet.pid == TSPacket.patPID {
            let sections = patAssembler.push(
                payload: work[packet.payload],
                unitStart: packet.payloadUnitStart,
                packet: raw
            )
            for section in sections { apply(pat: section) }
            return (false, nil)
        }
        if packet.pid == pmtPID {
            let sections = pmtAssembler.push(
                payload: work[packet.payload],
                unitStart: packet.payloadUnitStart,
                packet: raw
            )
            for section in sections { apply(pmt: section) }
            return (false, nil)
        }
        guard packet.payloadUnitStart else { return (false, nil) }
        let isVideo = packet.pid == videoPID
        let isAudio = !isVideo && audioPIDs.contains(packet.pid)
        guard isVideo || isAudio else { return (false, nil) }

        var header: PESHeader?
        if !packet.payload.isEmpty {
            do {
                header = try PESHeader.parse(work, in: packet.payload)
            } catch {
                malformed += 1
            }
        }
        let pts = header?.pts
        let timing = isVideo || (videoPID == nil && packet.pid == audioPIDs.first)
        if timing, let pts { noteTiming(pts) }

        var keyframe = false
        if isVideo {
            keyframe = packet.randomAccess
            if !keyframe, !packet.scrambled, let header, let videoCodec {
                keyframe = NALScanner.containsRandomAccess(
                    work,
                    in: header.payloadStart..<packet.payload.upperBound,
                    codec: videoCodec
                )
            }
        } else if timing {
            // Without video every audio frame is decodable on its own.
            keyframe = true
        }
        if keyframe { keyframes += 1 }
        return (keyframe, pts)
    }

    private mutating func apply(pat section: PSISection) {
        guard let pat = try? PATSection.parse(section.bytes), let pid = pat.firstPMTPID else {
            malformed += 1
            return
        }
        patPackets = section.packets
        if pid != pmtPID {
            // A new program map: forget the old streams until it arrives.
            pmtPID = pid
            pmtAssembler = PSISectionAssembler()
            pmtPackets = nil
            videoPID = nil
            videoCodec = nil
            audioPIDs = []
        }
    }

    private mutating func apply(pmt section: PSISection) {
        guard let pmt = try? PMTSection.parse(section.bytes) else {
            malformed += 1
            return
        }
        pmtPackets = section.packets
        var video: (UInt16, TSVideoCodec?)?
        var audio: [UInt16] = []
        for stream in pmt.streams {
            switch TSStreamKind(streamType: stream.streamType) {
            case .video(let codec):
                if video == nil { video = (stream.pid, codec) }
            case .audio:
                audio.append(stream.pid)
            case .other:
                break
            }
        }
        if videoPID != video?.0 || audioPIDs.first != audio.first {
            lastPTS = nil
            previousTimingPTS = nil
            frameTicks = nil
        }
        videoPID = video?.0
        videoCodec = video?.1
        audioPIDs = audio
    }

    private mutating func noteTiming(_ pts: UInt64) {
        if let previous = previousTimingPTS {
            let step = MediaClock.delta(from: previous, to: pts)
            // Steps over a second are gaps or discontinuities, not frame durations.
            if step > 0, step <= Int64(MediaClock.hz) {
                frameTicks = min(frameTicks ?? UInt64(step), UInt64(step))
            }
        }
        previousTimingPTS = pts
        if let last = lastPTS, MediaClock.delta(from: last, to: pts) <= 0 { return }
        lastPTS = pts
    }
}

/// Groups accepted packets into chunks: one chunk per `feed` call, cut before each keyframe.
private struct ChunkBuilder {
    private var chunks: [MediaChunk] = []
    private var current: MediaChunk?

    mutating func add(_ packet: ArraySlice<UInt8>, keyframe: Bool, pts: UInt64?) {
        if keyframe || current == nil {
            if let current { chunks.append(current) }
            current = MediaChunk(bytes: [], keyframe: keyframe, pts: pts)
            current?.bytes.reserveCapacity(TSPacket.size * 8)
        } else if current?.keyframe == false, current?.pts == nil {
            current?.pts = pts
        }
        current?.bytes.append(contentsOf: packet)
    }

    consuming func finish() -> [MediaChunk] {
        if let current { chunks.append(current) }
        return chunks
    }
}
