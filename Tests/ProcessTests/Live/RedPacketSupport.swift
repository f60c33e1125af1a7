import Foundation
import Testing

/// One logged event with its whole JSON payload: the red-packet checks need `amount`, `shares`,
/// `redpacket`, which `StreamedEvent` does not keep.
struct LoggedEvent: CustomStringConvertible {
    var seq: UInt64
    var type: String
    var json: [String: Any]

    var user: String? { json["user"] as? String }
    var amount: Int64? { (json["amount"] as? NSNumber)?.int64Value }
    var shares: Int? { (json["shares"] as? NSNumber)?.intValue }
    /// The packet a grab or an expiry refers to.
    var redPacket: String? { json["redpacket"] as? String }
    var description: String { "\(seq):\(type)(\(user ?? "-") \(amount.map(String.init) ?? "-"))" }

    /// The complete events with an id in SSE text, in order (a block cut off at the end and
    /// `stats` events, which have no id, are left out).
    static func parse(sse: String) -> [LoggedEvent] {
        StreamedEvent.blocks(sse).map { LoggedEvent(seq: $0.id, type: $0.type, json: $0.json) }
    }

    /// The events of a `…/replays/{session}/events` answer (a JSON array of SSE data shapes).
    static func parse(replay body: String) -> [LoggedEvent] {
        let array = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [[String: Any]] ?? []
        return array.map {
            LoggedEvent(seq: ($0["seq"] as? NSNumber)?.uint64Value ?? 0, type: $0["type"] as? String ?? "", json: $0)
        }
    }
}

/// What the red-packet tests share: tokens for roles `GroupUsers` does not mint, and reading a
/// session's committed log from several replicas.
enum RedPackets {
    /// A client token for `user` with `role` in `group` (e.g. `guest`), signed with the
    /// cluster's auth secret.
    static func token(_ cluster: LocalCluster, user: String, group: String, role: String) async throws -> String {
        let minted = try await Tools.run(
            NodeProcess.binary,
            [
                "token", "--secret", try cluster.secret("QUNBO_AUTH_SECRET"), "--user", user, "--group",
                "\(group):\(role)", "--ttl", "2h",
            ]
        )
        return minted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The log each of `nodes` streams from `events?after=0` up to `lastSeq`, read at once
    /// (each node's own copy: `Qunbo-Route` is not set, and a replica serves its committed log).
    static func readLogs(
        _ cluster: LocalCluster,
        _ users: GroupUsers,
        from nodes: [String],
        upTo lastSeq: UInt64,
        as reader: String = "u0"
    ) async throws -> [String: [LoggedEvent]] {
        let readers = try nodes.map {
            ($0, try EventReader(url: users.url(cluster, $0, "/live/events?after=0"), token: users.token(reader)))
        }
        defer { for (_, r) in readers { r.stop() } }
        var logs: [String: [LoggedEvent]] = [:]
        for (node, r) in readers {
            try await r.waitFor(seq: lastSeq, timeout: 15)
            logs[node] = LoggedEvent.parse(sse: r.text).filter { $0.seq <= lastSeq }
        }
        return logs
    }

    /// The log node `node` streams up to the `lastSeq` its `GET …/live` gives now.
    static func currentLog(_ cluster: LocalCluster, _ users: GroupUsers, at node: String) async throws -> [LoggedEvent]
    {
        let answer = try await call(cluster, users, at: node, "GET", "/live", as: "u0")
        let lastSeq = try #require((LiveFixture.object(answer.body)["lastSeq"] as? NSNumber)?.uint64Value)
        return try await readLogs(cluster, users, from: [node], upTo: lastSeq)[node] ?? []
    }

    /// `events` are seqs 1...`last`, each once, in order.
    static func expectContiguous(
        _ events: [LoggedEvent],
        upTo last: UInt64,
        _ what: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let seqs = events.map(\.seq)
        #expect(
            seqs == (last == 0 ? [] : Array(1...last)),
            "\(what): \(seqs.count) events, first \(seqs.first ?? 0), last \(seqs.last ?? 0), wanted 1...\(last)",
            sourceLocation: sourceLocation
        )
        let mislabelled = events.filter { ($0.json["seq"] as? NSNumber)?.uint64Value != $0.seq }
        #expect(mislabelled.isEmpty, "\(what): data seq differs from id: \(mislabelled.prefix(5))")
    }

    /// `GET …/live` at `node` as JSON, without `viewers` (it moves with whoever watches) and
    /// without `primary` and `epoch` (a failover moves them: on two starved cores gossip may
    /// suspect a live node and the set fail over, which says nothing about what was decided).
    static func session(
        _ cluster: LocalCluster,
        _ users: GroupUsers,
        at node: String,
        as user: String = "u0"
    ) async throws -> [String: Any] {
        let answer = try await users.call(cluster, at: node, "GET", "/live", as: user)
        try #require(answer.status == 200, "GET /live at \(node): \(answer.status) \(answer.body)")
        var json = LiveFixture.object(answer.body)
        json["viewers"] = nil
        json["primary"] = nil
        json["epoch"] = nil
        return json
    }

    /// `users.call`, asked again (same user, same body: every write here is idempotent) while
    /// the answer is none, 502, 503 or 504, for up to 20 s: what a client does through a
    /// failover, which two starved cores can cause without any kill.
    static func call(
        _ cluster: LocalCluster,
        _ users: GroupUsers,
        at node: String,
        _ method: String,
        _ path: String,
        as user: String,
        json: String? = nil
    ) async throws -> (status: Int, body: String) {
        let giveUp = ContinuousClock.now + .seconds(20)
        /// A curl that could not even run to its end (the machine too busy to reap it in
        /// time) is an answer of none, asked again like a refused connection.
        func ask() async -> (status: Int, body: String) {
            do {
                return try await users.call(cluster, at: node, method, path, as: user, json: json, timeout: 12)
            } catch {
                return (0, "\(error)")
            }
        }
        var answer = await ask()
        while [0, 502, 503, 504].contains(answer.status), ContinuousClock.now < giveUp {
            try await Task.sleep(for: .milliseconds(200))
            answer = await ask()
        }
        return answer
    }

    /// `json` as sorted-key JSON text, to compare two answers whole.
    static func canonical(_ json: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), as: UTF8.self)
    }

    /// The error object of an error answer: (`code`, `message`).
    static func error(_ body: String) -> (code: String, message: String) {
        let error = LiveFixture.object(body)["error"] as? [String: Any] ?? [:]
        return (error["code"] as? String ?? "", error["message"] as? String ?? "")
    }
}
