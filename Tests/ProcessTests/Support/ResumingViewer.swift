import Foundation

/// An SSE viewer that behaves as an EventSource client: when its stream ends, it connects again to
/// the same URL (following a redirect to a replica) with `Last-Event-ID` set to the last event it
/// got. Reconnects happen while the test waits on it.
final class ResumingViewer: @unchecked Sendable {
    let url: String
    private let token: String
    private let lock = NSLock()
    private var current: EventReader
    private var carried: [StreamedEvent] = []
    private(set) var reconnects = 0

    init(url: String, token: String) throws {
        self.url = url
        self.token = token
        current = try EventReader(url: url, token: token)
    }

    /// Every event received so far, across reconnects.
    var events: [StreamedEvent] { lock.withLock { carried + current.events } }

    /// Waits until an event with a seq of at least `seq` has arrived, reconnecting whenever the
    /// stream has ended; returns every event so far.
    @discardableResult
    func waitFor(seq: UInt64, timeout: Double) async throws -> [StreamedEvent] {
        do {
            try await waitUntil("events up to seq \(seq) from \(url)", timeout: timeout) {
                try self.reconnectIfEnded()
                return (self.events.last?.seq ?? 0) >= seq
            }
        } catch {
            let got = events.last.map { String($0.seq) } ?? "none"
            throw ResumeStalled(url: url, wanted: seq, got: got, reconnects: reconnects, tail: current.text.suffix(600))
        }
        return events
    }

    private func reconnectIfEnded() throws {
        try lock.withLock {
            guard !current.isConnected else { return }
            carried += current.events
            reconnects += 1
            current = try EventReader(url: url, token: token, lastEventID: carried.last?.seq, followRedirects: true)
        }
    }

    func stop() { lock.withLock { current.stop() } }
}

struct ResumeStalled: Error, CustomStringConvertible {
    var url: String
    var wanted: UInt64
    var got: String
    var reconnects: Int
    var tail: Substring
    var description: String {
        "the viewer of \(url) never got seq \(wanted) (last seq \(got), \(reconnects) reconnects); end of its stream:\n\(tail)"
    }
}
