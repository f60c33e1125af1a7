/// One complete PSI section, with the transport packets it arrived in: those packets, verbatim,
/// are what a new viewer needs first, so they are kept rather than re-encoded.
struct PSISection: Equatable {
    var bytes: [UInt8]
    var packets: [UInt8]
}

/// Reassembles PSI sections of one PID from packet payloads (ISO/IEC 13818-1 §2.4.4). Sections
/// may span packets and a packet may end one section and start the next, so the bytes are
/// buffered, but never more than one maximal section: every length is checked before use.
struct PSISectionAssembler: Sendable {
    /// PAT and PMT sections are at most 1024 bytes, so `section_length` is at most 1021.
    static let maxSectionLength = 1021
    /// A 1024-byte section spans at most 6 packets; more means the stream is broken.
    static let maxPackets = 6

    private var buffer: [UInt8] = []
    private var packets: [UInt8] = []
    private var active = false

    /// Bytes currently held, for the memory bound.
    var heldBytes: Int { buffer.count + packets.count }

    /// Adds one packet's payload; returns the sections it completed. Malformed framing
    /// (a pointer past the payload, an absurd length) drops what was buffered.
    mutating func push(payload: ArraySlice<UInt8>, unitStart: Bool, packet: ArraySlice<UInt8>) -> [PSISection] {
        var sections: [PSISection] = []
        if unitStart {
            guard let pointer = payload.first.map(Int.init), pointer < payload.count else {
                reset()
                return []
            }
            let rest = payload.dropFirst()
            if active {
                // The bytes before the pointer end the section begun in earlier packets.
                buffer.append(contentsOf: rest.prefix(pointer))
                packets.append(contentsOf: packet)
                drain(into: &sections)
            }
            buffer = Array(rest.dropFirst(pointer))
            packets = Array(packet)
            active = true
        } else {
            guard active else { return [] }
            buffer.append(contentsOf: payload)
            packets.append(contentsOf: packet)
        }
        drain(into: &sections)
        return sections
    }

    private mutating func drain(into sections: inout [PSISection]) {
        while active, buffer.count >= 3 {
            // 0xFF is stuffing: nothing more starts in this packet.
            if buffer[0] == 0xFF {
                reset()
                return
            }
            let length = Int(buffer[1] & 0x0F) << 8 | Int(buffer[2])
            guard length <= Self.maxSectionLength else {
                reset()
                return
            }
            guard buffer.count >= 3 + length else {
                if packets.count > Self.maxPackets * TSPacket.size { reset() }
                return
            }
            sections.append(PSISection(bytes: Array(buffer[..<(3 + length)]), packets: packets))
            buffer.removeFirst(3 + length)
        }
    }

    private mutating func reset() {
        buffer = []
        packets = []
        active = false
    }
}

/// Reads the fixed long-form section header shared by PAT and PMT and returns the index one past
/// the last loop byte (the CRC is not checked: the ingest is TCP, and a bad table is replaced
/// by the next one within a fraction of a second).
private func sectionBody(_ section: [UInt8], tableID: UInt8, minimumLength: Int) throws(TSParseError) -> Int {
    guard section.count >= 3 else { throw .truncated }
    guard section[0] == tableID else { throw .unexpectedTableID(section[0]) }
    let length = Int(section[1] & 0x0F) << 8 | Int(section[2])
    guard length >= minimumLength, length <= PSISectionAssembler.maxSectionLength else {
        throw .badSectionLength(length)
    }
    guard section.count >= 3 + length else { throw .truncated }
    guard section[5] & 0x01 == 1 else { throw .notCurrent }
    return 3 + length - 4
}

/// The program association table: which PID carries each program's map.
struct PATSection: Equatable {
    var programs: [(number: UInt16, pmtPID: UInt16)]

    /// The first real program's PMT PID (program 0 is the network information table).
    var firstPMTPID: UInt16? { programs.first { $0.number != 0 }?.pmtPID }

    static func parse(_ section: [UInt8]) throws(TSParseError) -> PATSection {
        let end = try sectionBody(section, tableID: 0x00, minimumLength: 9)
        var programs: [(number: UInt16, pmtPID: UInt16)] = []
        var i = 8
        while i + 4 <= end {
            let number = UInt16(section[i]) << 8 | UInt16(section[i + 1])
            let pid = UInt16(section[i + 2] & 0x1F) << 8 | UInt16(section[i + 3])
            programs.append((number, pid))
            i += 4
        }
        return PATSection(programs: programs)
    }

    static func == (a: PATSection, b: PATSection) -> Bool {
        a.programs.elementsEqual(b.programs) { $0.number == $1.number && $0.pmtPID == $1.pmtPID }
    }
}

/// What an elementary stream is, as far as the server cares.
enum TSStreamKind: Equatable {
    case video(TSVideoCodec?)
    case audio
    case other

    /// ISO/IEC 13818-1 Table 2-34 and the ATSC/DVB private types ffmpeg uses.
    init(streamType: UInt8) {
        switch streamType {
        case 0x1B: self = .video(.h264)
        case 0x24: self = .video(.h265)
        case 0x01, 0x02, 0x10, 0x42, 0xD1, 0xEA: self = .video(nil)
        case 0x03, 0x04, 0x0F, 0x11, 0x81, 0x87: self = .audio
        default: self = .other
        }
    }
}

/// The program map table: the program's elementary streams.
struct PMTSection: Equatable {
    struct Stream: Equatable {
        var streamType: UInt8
        var pid: UInt16
    }

    var pcrPID: UInt16
    var streams: [Stream]

    static func parse(_ section: [UInt8]) throws(TSParseError) -> PMTSection {
        let end = try sectionBody(section, tableID: 0x02, minimumLength: 13)
        let pcrPID = UInt16(section[8] & 0x1F) << 8 | UInt16(section[9])
        let programInfoLength = Int(section[10] & 0x0F) << 8 | Int(section[11])
        var i = 12 + programInfoLength
        guard i <= end else { throw .badSectionLength(programInfoLength) }
        var streams: [Stream] = []
        while i + 5 <= end {
            let type = section[i]
            let pid = UInt16(section[i + 1] & 0x1F) << 8 | UInt16(section[i + 2])
            let infoLength = Int(section[i + 3] & 0x0F) << 8 | Int(section[i + 4])
            streams.append(Stream(streamType: type, pid: pid))
            i += 5 + infoLength
        }
        return PMTSection(pcrPID: pcrPID, streams: streams)
    }
}
