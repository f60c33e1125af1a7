import Live
import NIOCore

/// A session's committed events for `…/replays/{s}/events`: in memory (a session this node
/// still holds) or as the encoded payloads of a settled copy read from disk.
enum ReplayEvents: Sendable {
    case memory(ArraySlice<LiveEvent>)
    case encoded([[UInt8]])

    var count: Int {
        switch self {
        case .memory(let events): events.count
        case .encoded(let payloads): payloads.count
        }
    }

    /// Events `range` (indices into this log), decoded if need be; undecodable payloads are
    /// skipped, as the log's loader skips them.
    func events(_ range: Range<Int>) -> [LiveEvent] {
        switch self {
        case .memory(let events):
            let base = events.startIndex
            return Array(events[(base + range.lowerBound)..<(base + range.upperBound)])
        case .encoded(let payloads):
            return payloads[range].compactMap { try? SessionHost.decodeEvent($0) }
        }
    }
}

extension LiveRoutes {
    /// Events per write of a streamed event array: each piece is rendered, written and awaited
    /// (the writer waits while the connection is not writable) before the next is rendered, so
    /// a response's memory is one piece, not the whole log.
    static let eventPiece = 256

    /// The JSON array of `events` in the public shape, byte for byte what one buffer would
    /// hold (`[` + events joined by `,` + `]`), written in pieces of `eventPiece` events.
    static func eventArrayStream(_ events: ReplayEvents) -> Response {
        var response = Response(
            body: .stream { writer in
                let total = events.count
                var start = 0
                var first = true
                repeat {
                    let end = min(total, start + eventPiece)
                    var text = start == 0 ? "[" : ""
                    for event in events.events(start..<end) {
                        if !first { text += "," }
                        first = false
                        text += event.apiJSON()
                    }
                    if end == total { text += "]" }
                    try await writer.write(ByteBuffer(string: text))
                    start = end
                } while start < total
            }
        )
        response.headers.add(name: "Content-Type", value: "application/json")
        return response
    }
}
