import Live
import ServiceLifecycle

/// Fires scheduled lives' reminders (`live.reminder`): every `interval`, each group log this node
/// is primary of logs the reminders due (`SessionHost.fireDueReminders`). The log holds which
/// fired, so a primary elected in between fires what is missing and nothing twice; a reminder is
/// late by at most `interval` plus a failover.
struct GroupLogKeeper: Service {
    let sessions: LiveSessions
    /// `--reminder-lead`.
    var lead: Duration
    /// How often due reminders are looked for. Default 250 ms.
    var interval: Duration = .milliseconds(250)

    func run() async throws { await runPeriodically(every: interval) { await checkOnce() } }

    func checkOnce() async {
        let lead = Int64(lead / .milliseconds(1))
        for host in sessions.allHosts where GroupLog.isLog(host.group) {
            await host.fireDueReminders(now: LiveSessions.nowMillis(), leadMillis: lead)
        }
    }
}
