import Live
import Logging
import ServiceLifecycle

/// Keeps share pointers true to their live (see `registerShares`): a pointer whose primary is
/// here is ended once its live ended, was replaced, or no longer lists the pointer's group (an
/// unshare whose second step did not happen). The share route ends pointers itself; this is what
/// makes the outcome certain across crashes between the two steps, and frees the group to start
/// a live of its own.
struct ShareKeeper: Service {
    let sessions: LiveSessions
    let cluster: SessionRouter
    var logger: Logger
    /// How often pointers are checked.
    var interval: Duration = .seconds(2)
    /// A pointer younger than this is left alone: its share may still be on its way.
    var grace: Duration = .seconds(5)

    func run() async throws { await runPeriodically(every: interval) { await checkOnce() } }

    /// One pass over the pointers this node is primary of.
    func checkOnce() async {
        for host in sessions.allHosts {
            let state = await host.state
            guard state.phase == .live, let pointer = state.info.sharedFrom, await host.role == .primary,
                let source = SessionRouter.parsePointer(pointer),
                LiveSessions.nowMillis() - state.info.startedAt > Int64(grace / .milliseconds(1))
            else { continue }
            // A fresh answer: a cached one may predate the `shared` event this pointer follows.
            cluster.forget(group: source.group)
            let (location, certain) = await cluster.lookup(group: source.group)
            let stale: Bool
            if let location {
                // Only a confirmed copy's answer (one naming a primary) tells the live's shares: a
                // copy restored after a restart, not yet confirmed, knows them from an old log.
                guard location.primary != nil else { continue }
                stale = location.session != source.session || !(location.sharedInto ?? []).contains(state.info.group)
            } else {
                stale = certain
            }
            guard stale else { continue }
            do {
                _ = try await host.write(
                    .end,
                    by: LiveActor(user: state.info.host, role: .owner),
                    now: LiveSessions.nowMillis()
                )
                logger.info(
                    "share pointer ended: its live ended or was unshared",
                    metadata: ["live.group": "\(state.info.group)", "live.shared_from": "\(pointer)"]
                )
            } catch {
                logger.warning("cannot end a stale share pointer; retried", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// Runs `pass` every `interval` until the node shuts down gracefully: the loop of the node's
/// keeper services (share pointers, reminders, webhook backlogs).
func runPeriodically(every interval: Duration, _ pass: @escaping @Sendable () async -> Void) async {
    try? await cancelWhenGracefulShutdown {
        while !Task.isCancelled {
            await pass()
            try await Task.sleep(for: interval)
        }
    }
}
