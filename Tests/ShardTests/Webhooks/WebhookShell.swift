import Live
import Shard

/// One simulated node's webhook state, modelled on `SessionHost` and its dispatcher: the outbox
/// every replica derives from its log (committed events in log order, cursor records as they
/// enter the log), and, used only while primary, the sending position per destination
/// (`webhookSent`, cleared on becoming primary so it starts at the cursor) with the dispatcher's
/// one delivery at a time and its retry state.
final class WebhookShell {
    /// The dispatcher's loop for one destination.
    struct Lane {
        /// `webhookSent`: the first index not yet acknowledged to this primary (0: the cursor's).
        var sent: UInt64 = 0
        /// The delivery in flight, if any.
        var inFlight: Int?
        /// Failures in a row, for the backoff.
        var failures = 0
        /// A retry is waiting for its backoff.
        var waiting = false
    }

    private(set) var outbox: WebhookOutbox
    /// Events of the session shell's log fed to the outbox (all committed, in order).
    private(set) var fed = 0
    var lanes: [Lane]

    /// A shell over a log (a restarted process reading its disk, or a fresh one): every cursor
    /// record, and the events committed up to `commitSeq`.
    init(destinations: [UInt64], log: [ReplicationEntry], session: RedPacketShell, commitSeq: UInt64) {
        outbox = WebhookOutbox(destinations: destinations)
        lanes = Array(repeating: Lane(), count: destinations.count)
        apply(log)
        committed(upTo: commitSeq, session: session)
    }

    /// Entries enter the log (`SessionHost.applyEntry`): cursor records move the outbox on.
    /// Returns a description of the first malformed one, if any.
    @discardableResult
    func apply(_ entries: [ReplicationEntry]) -> String? {
        var failure: String?
        for entry in entries {
            guard case .data(let payload) = entry.kind, !RedPacketShell.isEvent(payload) else { continue }
            let content = RedPacketShell.content(of: payload)
            guard WebhookCursorRecord.isRecord(content) else { continue }
            guard let cursor = WebhookCursorRecord.decode(content) else {
                failure = failure ?? "malformed cursor record at log seq \(entry.seq)"
                continue
            }
            outbox.acknowledged(destination: cursor.destination, next: cursor.next)
        }
        return failure
    }

    /// The log is committed up to `upTo` (`SessionHost.publish`): the session's events up to it
    /// go to the outbox in order. Returns how many webhooks they caused.
    @discardableResult
    func committed(upTo: UInt64, session: RedPacketShell) -> Int {
        var caused = 0
        while fed < session.events.count, session.eventLogSeqs[fed] <= upTo {
            caused += outbox.committed(session.events[fed])
            fed += 1
        }
        return caused
    }

    /// Becoming primary: every destination starts again at its cursor (`webhookSent = [:]`).
    func becamePrimary() {
        for d in lanes.indices { lanes[d].sent = 0 }
    }
}

/// A simulated webhook receiver: acknowledges (or refuses) what arrives and records every
/// delivery it accepted, the first body of each id and the order ids first arrived in.
struct WebhookReceiver {
    let name: String
    private(set) var bodies: [String: String] = [:]
    private(set) var firstOrder: [String] = []
    private(set) var receipts = 0
    /// An id accepted again with another body: (id, first body, later body).
    private(set) var conflicts: [(id: String, first: String, later: String)] = []

    init(name: String) { self.name = name }

    /// A delivery accepted (2xx).
    mutating func accept(id: String, body: String) {
        receipts += 1
        if let first = bodies[id] {
            if first != body { conflicts.append((id, first, body)) }
            return
        }
        bodies[id] = body
        firstOrder.append(id)
    }

    /// The checks of one receiver against the webhooks the committed log derives, in order:
    /// every one received (1), one body per id (2), first receipts in the log's order (3), and
    /// nothing else received (4); a body must also be the one the committed event renders.
    func violations(expected: [(id: String, body: String)]) -> [String] {
        var out: [String] = []
        for conflict in conflicts.prefix(2) {
            out.append("\(name) got \(conflict.id) with two bodies: \(conflict.first) and \(conflict.later)")
        }
        var position: [String: Int] = [:]
        for (k, webhook) in expected.enumerated() {
            position[webhook.id] = k
            guard let body = bodies[webhook.id] else {
                out.append("\(name) never got \(webhook.id) (webhook \(k) of \(expected.count) in the committed log)")
                continue
            }
            if body != webhook.body {
                out.append("\(name) got \(webhook.id) as \(body), the log renders \(webhook.body)")
            }
        }
        var last = -1
        for id in firstOrder {
            guard let k = position[id] else {
                out.append("\(name) got \(id), which the committed log does not cause")
                continue
            }
            if k < last {
                out.append("\(name) first got \(id) (webhook \(k)) after \(expected[last].id) (webhook \(last))")
            }
            last = max(last, k)
        }
        return out
    }
}
