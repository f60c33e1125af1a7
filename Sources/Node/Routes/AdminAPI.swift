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

    /// One session a node holds (`GET /admin/v1/sessions`): the API's `{"group", "session",
    /// "role", "lastSeq", "lagSeq"}` plus details.
    public struct SessionJSON: Codable, Sendable {
        public var group: String
        public var session: String
        public var role: String
        public var epoch: UInt64
        public var primary: String?
        public var members: [String]
        /// The last event seq in the log here (the API's `seq`).
        public var lastSeq: UInt64
        /// The last event seq shown to viewers here (committed).
        public var committedSeq: UInt64
        /// Replication-log positions (entries, including config entries).
        public var logLastSeq: UInt64
        public var logCommitSeq: UInt64
        /// In log entries. Primary: the largest lag of any replica; replica: entries not yet
        /// known to be committed.
        public var lagSeq: UInt64
        public var lagByReplica: [String: UInt64]
        public var ended: Bool
        /// Viewers this copy serves (event and media streams).
        public var viewers: Int?
        /// The edge relays this copy feeds (issue 17).
        public var relays: [String]?
        /// On a relay (`role` "relay"): the copy it pulls from.
        public var upstream: String?
    }

    public struct GroupRingJSON: Codable, Sendable {
        public var group: String
        public var replicas: [String]
        public var primary: String?

        /// `primary` is always present, null when unknown (API.md), which synthesized coding omits.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(group, forKey: .group)
            try c.encode(replicas, forKey: .replicas)
            if let primary { try c.encode(primary, forKey: .primary) } else { try c.encodeNil(forKey: .primary) }
        }
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
