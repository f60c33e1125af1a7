import Gossip
import ServiceLifecycle

/// Publishes this node's load (live sessions it holds a copy of, viewers it serves) through
/// gossip every `interval`: the console shows it per member, and viewer routing uses it to
/// break ties between replicas at the same estimated distance ("then least loaded").
struct LoadReporter: Service {
    let sessions: LiveSessions
    let gossip: GossipShell
    /// How often the load is measured (gossip publishes a change at most once a second).
    var interval: Duration = .seconds(2)

    func run() async throws {
        // A graceful shutdown cancels the sleep: the node does not wait on this loop.
        try? await cancelWhenGracefulShutdown {
            var last: MemberLoad?
            while !Task.isCancelled {
                let load = await sessions.load()
                if load != last {
                    gossip.setLoad(load)
                    last = load
                }
                try await Task.sleep(for: interval)
            }
        }
    }
}

extension LiveSessions {
    /// Live session copies held here and their viewers on this node.
    func load() async -> MemberLoad {
        var load = MemberLoad()
        for host in allHosts where await host.state.phase != .ended {
            load.sessions += 1
            load.viewers += await host.viewerCount
        }
        return load
    }
}
