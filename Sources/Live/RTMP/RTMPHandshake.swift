/// The server side of the RTMP handshake (Adobe RTMP 1.0 §5.2), the simple form ffmpeg and OBS
/// (librtmp) accept: C0+C1 in, S0+S1+S2 out (S2 echoes C1), then C2 in.
public struct RTMPHandshake: Sendable {
    static let size = 1536

    public enum Step: Equatable, Sendable {
        /// More bytes are needed.
        case waiting
        /// Send these (S0, S1, S2).
        case reply([UInt8])
        /// Done; bytes after C2 are the chunk stream's.
        case done(rest: [UInt8])
    }

    private var received: [UInt8] = []
    private var replied = false
    /// S1's 1,528 bytes of noise: randomness is the caller's, so tests are reproducible.
    private let noise: [UInt8]

    public init(noise: [UInt8]) {
        self.noise = Array((noise + [UInt8](repeating: 0, count: Self.size)).prefix(Self.size - 8))
    }

    /// Consumes bytes; returns what to do next. Holds at most C0+C1+C2 (3,073 bytes).
    public mutating func feed(_ bytes: some Collection<UInt8>) throws(RTMPError) -> [Step] {
        received += bytes
        var steps: [Step] = []
        if !replied {
            guard let version = received.first else { return [.waiting] }
            guard version == 3 else { throw .badVersion(version) }
            guard received.count >= 1 + Self.size else { return [.waiting] }
            let c1 = received[1...Self.size]
            replied = true
            steps.append(.reply([3] + [0, 0, 0, 0, 0, 0, 0, 0] + noise + Array(c1)))
            received.removeFirst(1 + Self.size)
        }
        guard received.count >= Self.size else { return steps + [.waiting] }
        let rest = Array(received[Self.size...])
        received = []
        return steps + [.done(rest: rest)]
    }
}
