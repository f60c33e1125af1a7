/// The live media streams a viewer can pull: MPEG-TS (`stream.ts`, players and ffmpeg) and
/// fragmented MP4 (`stream.mp4`, browsers' Media Source Extensions).
enum MediaFormat: String, CaseIterable, Sendable {
    case ts
    case mp4

    var contentType: String { self == .ts ? "video/mp2t" : "video/mp4" }
}
