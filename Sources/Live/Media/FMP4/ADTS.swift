/// AAC in MPEG-TS comes as ADTS frames (ISO/IEC 13818-7 §6.2): a 7- or 9-byte header in front
/// of each raw frame. MP4 stores the raw frames and the stream's AudioSpecificConfig once.
struct ADTSFrame: Equatable {
    /// The header's fields an MP4 track needs.
    struct Config: Equatable, Sendable {
        /// Audio object type (profile + 1: 2 is AAC LC).
        var objectType: UInt8
        var frequencyIndex: UInt8
        var channelConfiguration: UInt8

        static let frequencies = [
            96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
        ]

        var sampleRate: Int { Self.frequencies[Int(frequencyIndex)] }
        /// Channels for the common configurations (7 is 7.1: 8 channels).
        var channels: Int { channelConfiguration == 7 ? 8 : max(1, Int(channelConfiguration)) }

        /// Reads a 2-byte AudioSpecificConfig (what RTMP/FLV sends once); nil for what ADTS
        /// cannot carry (escaped object types or an explicit frequency).
        init?(audioSpecificConfig bytes: some Collection<UInt8>) {
            let b = Array(bytes.prefix(2))
            guard b.count == 2 else { return nil }
            let objectType = b[0] >> 3
            let frequencyIndex = (b[0] & 0x07) << 1 | b[1] >> 7
            let channels = (b[1] >> 3) & 0x0F
            guard (1...4).contains(objectType), frequencyIndex < 13, channels <= 7 else { return nil }
            self.init(objectType: objectType, frequencyIndex: frequencyIndex, channelConfiguration: channels)
        }

        init(objectType: UInt8, frequencyIndex: UInt8, channelConfiguration: UInt8) {
            self.objectType = objectType
            self.frequencyIndex = frequencyIndex
            self.channelConfiguration = channelConfiguration
        }

        /// The 7-byte ADTS header (no CRC) for a raw frame of `payloadLength` bytes.
        func adtsHeader(payloadLength: Int) -> [UInt8] {
            let length = payloadLength + 7
            return [
                0xFF, 0xF1,
                (objectType - 1) << 6 | frequencyIndex << 2 | channelConfiguration >> 2,
                (channelConfiguration & 3) << 6 | UInt8((length >> 11) & 0x3),
                UInt8((length >> 3) & 0xFF),
                UInt8((length & 7) << 5) | 0x1F,
                0xFC,
            ]
        }

        /// The 2-byte AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1).
        var audioSpecificConfig: [UInt8] {
            let value = UInt16(objectType) << 11 | UInt16(frequencyIndex) << 7 | UInt16(channelConfiguration) << 3
            return [UInt8(value >> 8), UInt8(truncatingIfNeeded: value)]
        }
    }

    var config: Config
    /// The raw AAC frame (header removed).
    var payload: ArraySlice<UInt8>

    /// AAC frames hold 1,024 samples per channel.
    static let samplesPerFrame = 1024

    /// Splits a PES payload into its ADTS frames. Stops at the first byte run that is not a
    /// valid header or a frame cut short (a damaged PES loses its tail, not the stream).
    static func frames(_ bytes: [UInt8]) -> [ADTSFrame] {
        var frames: [ADTSFrame] = []
        var i = 0
        while i + 7 <= bytes.count {
            guard bytes[i] == 0xFF, bytes[i + 1] & 0xF6 == 0xF0 else { break }
            let protectionAbsent = bytes[i + 1] & 1 == 1
            let profile = bytes[i + 2] >> 6
            let frequencyIndex = (bytes[i + 2] >> 2) & 0xF
            let channels = (bytes[i + 2] & 1) << 2 | bytes[i + 3] >> 6
            let length = Int(bytes[i + 3] & 0x3) << 11 | Int(bytes[i + 4]) << 3 | Int(bytes[i + 5] >> 5)
            let header = protectionAbsent ? 7 : 9
            guard frequencyIndex < 13, length > header, i + length <= bytes.count else { break }
            let config = Config(objectType: profile + 1, frequencyIndex: frequencyIndex, channelConfiguration: channels)
            frames.append(ADTSFrame(config: config, payload: bytes[(i + header)..<(i + length)]))
            i += length
        }
        return frames
    }
}
