import Live

/// The session object of the public API (API.md, Live sessions). `endedAt` is always present:
/// null while live.
struct SessionJSON: Codable, Sendable {
    var id: String
    var group: String
    var host: String
    var title: String
    var state: String
    var epoch: UInt64
    var startedAt: String
    var endedAt: String?
    var viewers: Int
    var likes: Int64
    var tipsTotal: Int64
    /// The currency `tipsTotal` counts (the session's first tipped one); null before any tip.
    var tipsCurrency: String?
    /// Every tipped currency's total in minor units.
    var tipsByCurrency: [String: Int64]
    var lastSeq: UInt64
    var primary: String?
    var replicas: [String]
    var record: Bool
    /// Groups the live is shared into now (omitted when none).
    var sharedInto: [String]?
    /// A share pointer's source, `"<group>/<session>"` (only on a pointer's own answers).
    var sharedFrom: String?

    init(_ s: LiveSessionState, primary: String?, replicas: [String], epoch: UInt64? = nil) {
        id = s.info.id
        group = s.info.group
        host = s.info.host
        title = s.info.title
        state = s.phase == .ended ? "ended" : "live"
        self.epoch = epoch ?? s.info.epoch
        startedAt = LiveRFC3339.format(millis: s.info.startedAt)
        endedAt = s.info.endedAt.map { LiveRFC3339.format(millis: $0) }
        viewers = s.viewers
        likes = s.likes
        tipsTotal = s.tipsTotal
        tipsCurrency = s.tipsCurrency
        tipsByCurrency = s.tipsByCurrency
        lastSeq = s.lastSeq
        self.primary = primary
        self.replicas = replicas
        record = s.info.record
        sharedInto = s.sharedInto.isEmpty ? nil : s.sharedInto.keys.sorted()
        sharedFrom = s.info.sharedFrom
    }

    enum CodingKeys: String, CodingKey {
        case id, group, host, title, state, epoch, startedAt, endedAt, viewers, likes, tipsTotal, tipsCurrency
        case tipsByCurrency, lastSeq, primary
        case replicas, record, sharedInto, sharedFrom
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(group, forKey: .group)
        try c.encode(host, forKey: .host)
        try c.encode(title, forKey: .title)
        try c.encode(state, forKey: .state)
        try c.encode(epoch, forKey: .epoch)
        try c.encode(startedAt, forKey: .startedAt)
        if let endedAt { try c.encode(endedAt, forKey: .endedAt) } else { try c.encodeNil(forKey: .endedAt) }
        try c.encode(viewers, forKey: .viewers)
        try c.encode(likes, forKey: .likes)
        try c.encode(tipsTotal, forKey: .tipsTotal)
        if let tipsCurrency {
            try c.encode(tipsCurrency, forKey: .tipsCurrency)
        } else {
            try c.encodeNil(forKey: .tipsCurrency)
        }
        try c.encode(tipsByCurrency, forKey: .tipsByCurrency)
        try c.encode(lastSeq, forKey: .lastSeq)
        if let primary { try c.encode(primary, forKey: .primary) } else { try c.encodeNil(forKey: .primary) }
        try c.encode(replicas, forKey: .replicas)
        try c.encode(record, forKey: .record)
        try c.encodeIfPresent(sharedInto, forKey: .sharedInto)
        try c.encodeIfPresent(sharedFrom, forKey: .sharedFrom)
    }
}

extension LiveError {
    /// The API error for a domain refusal: the one place domain errors become HTTP.
    var apiError: APIError {
        var headers: [(String, String)] = []
        if let retry = retryAfterSeconds { headers.append(("Retry-After", String(retry))) }
        return APIError(.init(statusCode: httpStatus), code, message, headers: headers)
    }
}
