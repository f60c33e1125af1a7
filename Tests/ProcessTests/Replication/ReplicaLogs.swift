import Foundation
import Testing

/// A session's log as each of its replicas streams it to a viewer, and API.md's Guarantees
/// checked on it: one total order, no gap, no repeat, every acknowledged write exactly once.
struct ReplicaLogs {
    /// Node id -> the events its `…/live/events?after=0` streamed, up to `lastSeq`.
    var logs: [String: [StreamedEvent]]
    var lastSeq: UInt64

    /// Reads the whole log (from seq 0 to `lastSeq`) from each of `nodes` directly, at once.
    static func read(
        _ cluster: LocalCluster,
        _ users: GroupUsers,
        from nodes: [String],
        upTo lastSeq: UInt64
    ) async throws -> ReplicaLogs {
        let readers = try nodes.map {
            ($0, try EventReader(url: users.url(cluster, $0, "/live/events?after=0"), token: users.token("u0")))
        }
        defer { for (_, reader) in readers { reader.stop() } }
        var logs: [String: [StreamedEvent]] = [:]
        for (node, reader) in readers {
            do {
                logs[node] = try await reader.waitFor(seq: lastSeq, timeout: 10).filter { $0.seq <= lastSeq }
            } catch {
                throw ClusterStateError(what: "\(node): \(error)", cluster: cluster, ids: cluster.ids(), session: nil)
            }
        }
        return ReplicaLogs(logs: logs, lastSeq: lastSeq)
    }

    /// Every node streamed exactly the same events, seqs 1...lastSeq.
    func expectOneTotalOrder(sourceLocation: SourceLocation = #_sourceLocation) {
        for (node, events) in logs.sorted(by: { $0.key < $1.key }) {
            Self.expectContiguous(events, upTo: lastSeq, "\(node)'s stream", sourceLocation: sourceLocation)
        }
        let reference = logs.min { $0.key < $1.key }!
        for (node, events) in logs where events != reference.value {
            let diff = zip(reference.value, events).first { $0 != $1 }
            Issue.record(
                "\(node) streams a different log than \(reference.key): first difference \(diff.map { "\($0)" } ?? "in length")",
                sourceLocation: sourceLocation
            )
        }
    }

    /// Every comment `report` saw acknowledged is in each log exactly once, at the seq its answer
    /// gave; an unacknowledged one at most once; and no other comment is there.
    func expectComments(of report: CommentWriter.Report, sourceLocation: SourceLocation = #_sourceLocation) {
        let unacknowledged = Set(report.unacknowledged)
        for (node, events) in logs.sorted(by: { $0.key < $1.key }) {
            let comments = events.filter { $0.type == "comment" }
            let byText = Dictionary(grouping: comments, by: { $0.text ?? "" })
            let missing = report.acked.keys.filter { byText[$0] == nil }.sorted()
            #expect(missing.isEmpty, "\(node) lacks acknowledged comments \(missing)", sourceLocation: sourceLocation)
            let repeated = byText.filter { $0.value.count > 1 }.map { "\($0.key) x\($0.value.count)" }.sorted()
            #expect(
                repeated.isEmpty,
                "\(node) holds comments more than once: \(repeated)",
                sourceLocation: sourceLocation
            )
            let moved = report.acked.compactMap { id, seq -> String? in
                guard let at = byText[id]?.first?.seq, at != seq else { return nil }
                return "\(id) acknowledged as \(seq), logged at \(at)"
            }.sorted()
            #expect(moved.isEmpty, "\(node): \(moved)", sourceLocation: sourceLocation)
            let strangers = byText.keys.filter { report.acked[$0] == nil && !unacknowledged.contains($0) }.sorted()
            #expect(
                strangers.isEmpty,
                "\(node) holds comments nobody wrote: \(strangers)",
                sourceLocation: sourceLocation
            )
        }
    }

    /// `events` are seqs 1...last in order, each once, each with its data's seq equal to its id.
    static func expectContiguous(
        _ events: [StreamedEvent],
        upTo last: UInt64,
        _ what: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let seqs = events.map(\.seq)
        if seqs != Array(1...last) {
            let gaps = zip(seqs, seqs.dropFirst()).filter { $1 != $0 + 1 }.map { "\($0)->\($1)" }
            let found =
                "\(what): \(seqs.count) events, first \(seqs.first.map(String.init) ?? "none"), last "
                + "\(seqs.last.map(String.init) ?? "none"), wanted 1...\(last); breaks: \(gaps.prefix(10))"
            Issue.record(Comment(rawValue: found), sourceLocation: sourceLocation)
        }
        let mislabelled = events.filter { $0.dataSeq != $0.seq }
        #expect(mislabelled.isEmpty, "\(what): events whose data seq is not their id: \(mislabelled.prefix(5))")
    }
}
