/// The JSON shapes of the operator API (API.md, Operator API), shared by the node that answers
/// and the `qunbo` commands that read them.
public enum AdminAPI {
    public struct MemberJSON: Codable, Sendable {
        public var id: String
        public var address: String
        public var zone: String?
        public var state: String
        public var incarnation: UInt64
        public var generation: UInt64
        public var rttMs: Double?
        public var sessions: Int
        public var viewers: Int
    }

    public struct MembersJSON: Codable, Sendable {
        public var `self`: String
        public var members: [MemberJSON]
    }

    public struct GroupRingJSON: Codable, Sendable {
        public var group: String
        public var replicas: [String]
        public var primary: String?
    }

    public struct RingJSON: Codable, Sendable {
        public struct Node: Codable, Sendable {
            public var id: String
            public var share: Double
        }
        public var nodes: [Node]
        public var vnodes: Int
    }
}
