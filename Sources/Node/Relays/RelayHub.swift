import Synchronization

/// The edge-relay copies this node holds (issue 17), by session id, and the settings they run
/// by. `LiveSessions+Relays.swift` makes, feeds, checks and drops them.
final class RelayHub: Sendable {
    /// Relay settings.
    struct Settings: Sendable {
        /// `--route`. Default auto.
        var mode: RouteMode = .auto
        /// Viewers per replica past which `auto` relays (`--relay-threshold`). Default 500.
        var threshold = 500
        /// An idle relay copy goes after this long (`--relay-linger`). Default 30 s.
        var linger: Duration = .seconds(30)
        /// How long a viewer waits for a new relay copy's first feed before it is redirected
        /// instead. Default 3 s (a catch-up of a long session is a few feeds).
        var readyTimeout: Duration = .seconds(3)
        /// Relays one copy feeds before the tree adds a level (`RelayTree.Settings.fanout`).
        /// Default 16.
        var fanout = 16
        /// How often each relay copy is checked (lease renewal, silence, idleness). Default 250 ms.
        var checkEvery: Duration = .milliseconds(250)
        init() {}
    }

    let settings: Settings
    let hosts = Mutex<[String: SessionHost]>([:])
    /// Relay copies being made, so two viewers arriving together make one.
    let making = Mutex<[String: Task<SessionHost?, Never>]>([:])
    /// Looks a group's live session up across the cluster (set by the node: `SessionRouter`),
    /// for a relay whose known replica set is all gone.
    let locate = Mutex<(@Sendable (String) async -> SessionLocation?)?>(nil)

    init(settings: Settings) {
        self.settings = settings
    }

    func host(session: String) -> SessionHost? { hosts.withLock { $0[session] } }

    /// The relay copy of a live session of `group` here, if any.
    func host(group: String) -> SessionHost? { hosts.withLock { $0.values.first { $0.group == group } } }

    var all: [SessionHost] { hosts.withLock { Array($0.values) } }
}
