import NIOCore
import Synchronization

/// Counts the connections a node holds, in all and per client IP, and admits a new one only
/// under both limits (`--max-connections`, `--max-connections-per-ip`).
///
/// Checked at accept, before a byte is read, so a flood costs the node an accept and a close
/// per connection, not a pipeline. A connection is released when its channel closes.
final class ConnectionLimiter: Sendable {
    /// Why a connection was refused: the `reason` label of `qunbo_http_refused_total`.
    enum Refusal: String, Sendable {
        case node = "max_connections"
        case perIP = "max_connections_per_ip"
    }

    private struct Counts {
        var total = 0
        var byIP: [String: Int] = [:]
    }

    private let counts = Mutex(Counts())
    let maxConnections: Int
    let maxPerIP: Int

    init(maxConnections: Int, maxPerIP: Int) {
        self.maxConnections = max(1, maxConnections)
        self.maxPerIP = max(1, maxPerIP)
    }

    /// The key a connection is counted under: its IP without the port (a Unix socket or an
    /// unknown peer shares one key).
    static func key(of address: SocketAddress?) -> String { address?.ipAddress ?? "unknown" }

    /// Admits a connection from `ip` (counting it) or says why not (counting nothing).
    func admit(_ ip: String) -> Refusal? {
        counts.withLock { c in
            if c.total >= maxConnections { return .node }
            if c.byIP[ip, default: 0] >= maxPerIP { return .perIP }
            c.total += 1
            c.byIP[ip, default: 0] += 1
            return nil
        }
    }

    /// Releases a connection `admit` counted.
    func release(_ ip: String) {
        counts.withLock { c in
            c.total = max(0, c.total - 1)
            let left = (c.byIP[ip] ?? 1) - 1
            c.byIP[ip] = left > 0 ? left : nil
        }
    }

    var open: Int { counts.withLock { $0.total } }
}
