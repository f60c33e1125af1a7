import NIOHTTP1

/// The cluster secret that authenticates node-to-node routes, sent as `Qunbo-Cluster-Secret`.
public struct ClusterSecret: Sendable {
    public static let header = "Qunbo-Cluster-Secret"
    private let bytes: [UInt8]

    public init?(_ secret: String?) {
        guard let secret, !secret.isEmpty else { return nil }
        bytes = Array(secret.utf8)
    }

    public var value: String { String(decoding: bytes, as: UTF8.self) }

    /// Whether `headers` carry this secret. Constant time in the secret's length, so response
    /// timing reveals nothing about how much of a guess matched.
    public func authenticates(_ headers: HTTPHeaders) -> Bool {
        guard let given = headers.first(name: Self.header) else { return false }
        let candidate = Array(given.utf8)
        var difference = UInt8(truncatingIfNeeded: candidate.count ^ bytes.count)
        for i in bytes.indices {
            difference |= bytes[i] ^ (i < candidate.count ? candidate[i] : 0)
        }
        return difference == 0
    }
}
