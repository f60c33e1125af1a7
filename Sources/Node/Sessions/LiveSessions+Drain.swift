import Foundation
import Shard

/// Draining this node: primaries handed over, replica memberships given up, no new sessions.
extension LiveSessions {
    // MARK: Drain

    /// Starts a drain in the background (`/admin/v1/drain`); `thenLeave` shuts the node down after
    /// it, which announces the leave to the cluster (`/admin/v1/leave`).
    func requestDrain(thenLeave: Bool) {
        drainingSelf.store(true, ordering: .relaxed)
        viewChangedHere()
        state.markDraining()
        drainRequests.continuation.yield(thenLeave)
    }

    /// Hands every primary held here to a caught-up replica and asks primaries to replace this
    /// node as a replica; stops new sessions from being placed here. Returns when nothing is led
    /// here any more, or at the deadline. `progress` gets a line per round.
    func drain(deadline: Duration, progress: (@Sendable (String) -> Void)? = nil) async {
        drainingSelf.store(true, ordering: .relaxed)
        viewChangedHere()
        state.markDraining()
        let until = ContinuousClock.now + deadline
        while ContinuousClock.now < until {
            var leading = 0
            var following = 0
            for host in allHosts {
                let summary = await host.summary
                guard summary.phase != .ended else { continue }
                if summary.role == .primary {
                    // A session with no other replica (a one-node cluster) cannot be handed over;
                    // it stays here, and its log on disk, until the node comes back.
                    guard summary.members.count > 1 else { continue }
                    leading += 1
                    _ = await host.handOver(avoiding: drainingNodeIDs())
                } else if summary.members.contains(nodeID) {
                    following += 1
                    if let primary = summary.primary {
                        links.sendLeaving(group: summary.group, session: summary.session, to: primary)
                    }
                }
            }
            progress?("primaries left: \(leading), replica memberships left: \(following)")
            if leading == 0 && following == 0 { break }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }
}
