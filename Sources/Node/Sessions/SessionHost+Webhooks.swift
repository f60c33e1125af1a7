import Live
import Shard

/// The webhooks of this session's log (`WebhookOutbox`), as its primary sends them, and, for a
/// group log, the reminders its primary's timer fires.
extension SessionHost {
    /// One webhook ready to send: its index in the outbox, id, kind, body, and the causing
    /// event's time (the delivery latency counts from it).
    struct PreparedWebhook: Sendable {
        var index: UInt64
        var id: String
        var kind: WebhookKind
        var body: String
        var eventAt: Int64
    }

    /// Tells the dispatcher when this copy, as primary, owes webhooks.
    func webhooksDue() {
        guard replica.role == .primary, outbox.pending else { return }
        hooks.webhooksDue()
    }

    /// The next webhook `destination` is owed, while this copy is primary and its log works:
    /// a copy that is not primary sends nothing (the new primary resumes from the cursors).
    func nextWebhook(destination: UInt64) -> PreparedWebhook? {
        guard replica.role == .primary, storageFailure == nil,
            let entry = outbox.next(for: destination, from: webhookSent[destination] ?? 0),
            entry.eventSeq >= 1, Int(entry.eventSeq) <= allEvents.count
        else { return nil }
        let event = allEvents[Int(entry.eventSeq) - 1]
        return PreparedWebhook(
            index: entry.index,
            id: WebhookBody.id(entry, session: sessionID),
            kind: entry.kind,
            body: WebhookBody.render(entry, event: event, group: group, session: sessionID),
            eventAt: event.at
        )
    }

    /// `destination` acknowledged the entry at `index` (or it was given up): the sender moves on
    /// at once; the cursor goes into the log within `cursorFlushDelay`, one record per
    /// destination for however many deliveries (a record per delivery cost a log write each and
    /// slowed the live's own writes). A failover before it commits only sends those entries
    /// again, with the same ids and bodies.
    func webhookDone(destination: UInt64, index: UInt64) {
        guard replica.role == .primary else { return }
        webhookSent[destination] = max(webhookSent[destination] ?? 0, index + 1)
        guard !webhookFlushDue else { return }
        webhookFlushDue = true
        Task {
            try? await Task.sleep(for: Self.cursorFlushDelay)
            self.flushWebhookCursors()
        }
    }

    /// How long acknowledged deliveries wait to be recorded together. 100 ms: at most ten cursor
    /// records a second per destination, and at most that much sent again after a failover.
    static let cursorFlushDelay: Duration = .milliseconds(100)

    /// Proposes one cursor record per destination whose sender moved past the recorded cursor.
    func flushWebhookCursors() {
        webhookFlushDue = false
        guard replica.role == .primary else { return }
        for (destination, sent) in webhookSent.sorted(by: { $0.key < $1.key })
        where sent > max(outbox.cursors[destination] ?? 0, webhookRecorded[destination] ?? 0) {
            let clock = hooks.now()
            let record = WebhookCursorRecord.encode(destination: destination, next: sent)
            guard case .success(let (_, directives)) = replica.propose(record, now: clock) else { return }
            webhookRecorded[destination] = sent
            execute(directives, now: clock)
        }
    }

    /// Per destination: entries owed and the oldest one's event time (ms), for the backlog
    /// gauge and `qunbo webhooks`; only a primary's backlog counts (the others do not send).
    var webhookBacklog: [UInt64: (count: UInt64, oldestAt: Int64?)] {
        guard replica.role == .primary else { return [:] }
        var backlog: [UInt64: (count: UInt64, oldestAt: Int64?)] = [:]
        for destination in outbox.destinations {
            let count = outbox.backlog(for: destination)
            guard count > 0 else { continue }
            let oldest = outbox.next(for: destination).flatMap { entry in
                Int(entry.eventSeq) <= allEvents.count ? allEvents[Int(entry.eventSeq) - 1].at : nil
            }
            backlog[destination] = (count, oldest)
        }
        return backlog
    }

    // MARK: Reminders (group logs)

    /// Group log primary: logs every reminder due at `now` (each once: `decide` refuses a second,
    /// so a primary elected after a failover fires only what the log does not hold yet).
    func fireDueReminders(now: Int64, leadMillis: Int64) async {
        guard GroupLog.isLog(group), replica.role == .primary, session.state.phase == .live else { return }
        for due in session.state.dueReminders(now: now, leadMillis: leadMillis) {
            do {
                _ = try await write(
                    .remind(schedule: due.schedule, kind: due.kind),
                    by: LiveActor(user: GroupLog.systemUser, role: .owner),
                    now: now
                )
            } catch {
                logger.warning(
                    "reminder not logged; tried again",
                    metadata: ["live.schedule": "\(due.schedule)", "error": "\(error)"]
                )
                return
            }
        }
    }
}
