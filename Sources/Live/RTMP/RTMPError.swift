/// Why an RTMP connection is refused or closed. The node answers what it can (an `onStatus`
/// error for a bad key) and closes; it never crashes or grows memory on what a publisher sends.
public enum RTMPError: Error, Equatable, Sendable {
    /// C0 asked for a version other than 3 (or the bytes are not RTMP at all).
    case badVersion(UInt8)
    /// A chunk or message header that breaks the rules (an unknown chunk stream continued, a
    /// chunk size of 0 or above the cap).
    case badChunk(String)
    /// A message longer than the connection's cap, or partial messages on several chunk streams
    /// longer than it together.
    case messageTooLarge(Int)
    /// More chunk streams in progress than the cap.
    case tooManyChunkStreams
    /// AMF0 that cannot be read (truncated, an unknown marker, nested too deep).
    case badAMF(String)
    /// Media the pipeline cannot take (another codec, a malformed tag).
    case media(FLVError)
}
