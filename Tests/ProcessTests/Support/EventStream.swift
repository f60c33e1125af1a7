import Foundation

/// One logged event of a session (an SSE event with an `id:`), as a viewer received it.
struct StreamedEvent: Equatable, CustomStringConvertible {
    var seq: UInt64
    var type: String
    var user: String?
    var text: String?
    /// The `seq` inside the event's data, which must equal its `id:`.
    var dataSeq: UInt64?

    var description: String { "\(seq):\(type)\(text.map { "(\($0))" } ?? "")" }

    /// The complete events with an id in SSE text, in order; a block cut off at the end (the
    /// reader was stopped mid-event) and `stats` events (no id) are left out.
    static func parse(_ sse: String) -> [StreamedEvent] {
        blocks(sse).map { id, type, json in
            StreamedEvent(
                seq: id,
                type: type,
                user: json["user"] as? String,
                text: json["text"] as? String,
                dataSeq: (json["seq"] as? NSNumber)?.uint64Value
            )
        }
    }

    /// Each complete SSE event with an `id:`: its id, `event:` name and parsed `data:` JSON.
    static func blocks(_ sse: String) -> [(id: UInt64, type: String, json: [String: Any])] {
        var blocks = sse.components(separatedBy: "\n\n")
        blocks.removeLast()  // empty when the text ends with a complete event, else a partial one
        return blocks.compactMap { block in
            var id: UInt64?
            var type = "message"
            var data = ""
            for line in block.split(separator: "\n") {
                if line.hasPrefix("id: ") { id = UInt64(line.dropFirst(4)) }
                if line.hasPrefix("event: ") { type = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data += line.dropFirst(6) }
            }
            guard let id else { return nil }
            let json = (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:]
            return (id, type, json)
        }
    }
}

/// An SSE viewer left running (`curl -N` on a group's `…/live/events`), whose events can be read
/// at any moment.
final class EventReader: @unchecked Sendable {
    let url: String
    private let tool: BackgroundTool

    /// Connects to `url` with `token`, resuming after `lastEventID` if given; `headers` are sent
    /// as well (e.g. `Qunbo-Route: proxy`). `followRedirects` follows a 307 to a replica, with the
    /// token as `?access_token=` (curl does not send an Authorization header to another host).
    init(
        url: String,
        token: String,
        lastEventID: UInt64? = nil,
        headers: [String] = [],
        followRedirects: Bool = false,
        http2: Bool = false,
        maxSeconds: Double = 120
    ) throws {
        self.url = url
        var args = ["-sN", "--max-time", String(maxSeconds)]
        if http2 { args.append("--http2-prior-knowledge") }
        if !followRedirects { args += ["-H", "Authorization: Bearer \(token)"] }
        if let lastEventID { args += ["-H", "Last-Event-ID: \(lastEventID)"] }
        for h in headers { args += ["-H", h] }
        if followRedirects {
            args += ["-L", url + (url.contains("?") ? "&" : "?") + "access_token=\(token)"]
        } else {
            args.append(url)
        }
        tool = try BackgroundTool("curl", args)
    }

    var text: String { tool.output }
    var events: [StreamedEvent] { StreamedEvent.parse(tool.output) }
    var isConnected: Bool { tool.isRunning }

    /// Waits until an event with a seq of at least `seq` has arrived; returns every event so far.
    @discardableResult
    func waitFor(seq: UInt64, timeout: Double) async throws -> [StreamedEvent] {
        do {
            try await waitUntil("events up to seq \(seq) from \(url)", timeout: timeout) {
                (self.events.last?.seq ?? 0) >= seq
            }
        } catch {
            let got = events
            throw ReaderStalled(
                url: url,
                wanted: seq,
                got: got.last?.seq,
                connected: tool.isRunning,
                stderr: tool.errors,
                tail: String(text.suffix(600))
            )
        }
        return events
    }

    func stop() { tool.stop() }
}

struct ReaderStalled: Error, CustomStringConvertible {
    var url: String
    var wanted: UInt64
    var got: UInt64?
    var connected: Bool
    var stderr: String
    var tail: String
    var description: String {
        "the viewer of \(url) never got seq \(wanted): its last seq is \(got.map(String.init) ?? "none"), "
            + "still connected: \(connected); curl: \(stderr)\nend of its stream:\n\(tail)"
    }
}
