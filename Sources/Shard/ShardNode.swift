/// A member that can hold groups, as placement sees it: an id and, optionally, a failure zone.
///
/// Only the id feeds the hash, so a node keeps its ring positions across restarts and address
/// changes; the zone only steers preference lists so replicas do not share a rack or region.
public struct ShardNode: Hashable, Sendable, Codable {
    public var id: String
    public var zone: String?

    public init(id: String, zone: String? = nil) {
        self.id = id
        self.zone = zone
    }
}
