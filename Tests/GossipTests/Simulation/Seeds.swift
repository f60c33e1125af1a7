import Foundation

/// Seeds for simulation tests. Set `GOSSIP_SEED=1234` to replay one seed exactly in every test.
enum Seeds {
    static func list(_ defaults: [UInt64]) -> [UInt64] {
        if let text = ProcessInfo.processInfo.environment["GOSSIP_SEED"], let seed = UInt64(text) {
            return [seed]
        }
        return defaults
    }
}
