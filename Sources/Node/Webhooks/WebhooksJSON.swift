extension AdminAPI {
    /// `GET /admin/v1/webhooks`: each webhook destination's delivery state on one node.
    public struct WebhooksJSON: Codable, Sendable {
        public var node: String
        public var destinations: [Destination]

        public init(node: String, destinations: [Destination]) {
            self.node = node
            self.destinations = destinations
        }

        /// One `--webhook-url`.
        public struct Destination: Codable, Sendable {
            public var url: String
            /// Deliveries waiting (not yet answered 2xx, not dropped).
            public var backlog: Int
            /// Age of the oldest waiting delivery; null when none waits.
            public var oldestPendingSeconds: Double?
            public var delivered: Int
            public var attempts: Int
            public var failures: Int
            /// Deliveries given up on (retries exhausted or backlog full).
            public var dropped: Int
            /// The last answer's status; null before any answer.
            public var lastStatus: Int?
            /// The last failed attempt's error; null when it succeeded.
            public var lastError: String?

            public init(
                url: String,
                backlog: Int = 0,
                oldestPendingSeconds: Double? = nil,
                delivered: Int = 0,
                attempts: Int = 0,
                failures: Int = 0,
                dropped: Int = 0,
                lastStatus: Int? = nil,
                lastError: String? = nil
            ) {
                self.url = url
                self.backlog = backlog
                self.oldestPendingSeconds = oldestPendingSeconds
                self.delivered = delivered
                self.attempts = attempts
                self.failures = failures
                self.dropped = dropped
                self.lastStatus = lastStatus
                self.lastError = lastError
            }

            /// The optional fields are always present, null when unknown (as `GroupRingJSON`),
            /// which synthesized coding would omit.
            public func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(url, forKey: .url)
                try c.encode(backlog, forKey: .backlog)
                try c.encode(oldestPendingSeconds, forKey: .oldestPendingSeconds)
                try c.encode(delivered, forKey: .delivered)
                try c.encode(attempts, forKey: .attempts)
                try c.encode(failures, forKey: .failures)
                try c.encode(dropped, forKey: .dropped)
                try c.encode(lastStatus, forKey: .lastStatus)
                try c.encode(lastError, forKey: .lastError)
            }
        }
    }
}
