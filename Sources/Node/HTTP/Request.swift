import NIOCore
import NIOHTTP1

/// One HTTP request as the routes see it, the same for HTTP/1.1 and HTTP/2.
public struct Request: Sendable {
    public var method: HTTPMethod
    /// The request target as sent (`/v1/groups/g/live?after=3`).
    public var uri: String
    /// The percent-decoded path without the query.
    public var path: String
    /// Query parameters, percent-decoded; the last value wins on repeats.
    public var query: [String: String]
    public var headers: HTTPHeaders
    /// `true` when the request came over HTTP/2.
    public var isHTTP2: Bool
    /// Parameters bound by the route pattern (`:g` -> `group`).
    public var parameters: [String: String] = [:]
    public var remoteAddress: SocketAddress?
    /// The body, read at most once. See `RequestBody`.
    public var body: RequestBody
    /// The node that sent this request, set only once its `Qunbo-Peer-Auth` signature verified
    /// (`PeerGate`); nil for client requests.
    public var peer: String?
    /// Whether the connection presented a client certificate that verified against
    /// `--peer-ca` (TLS with mutual authentication configured).
    public var clientCertificateVerified = false

    init(head: HTTPRequestHead, isHTTP2: Bool, remoteAddress: SocketAddress?, body: RequestBody) {
        self.method = head.method
        self.uri = head.uri
        self.headers = head.headers
        self.isHTTP2 = isHTTP2
        self.remoteAddress = remoteAddress
        self.body = body
        let (path, query) = Request.split(uri: head.uri)
        self.path = path
        self.query = query
    }

    static func split(uri: String) -> (String, [String: String]) {
        // Most targets have neither a query nor an escape: no copy, no dictionary.
        if !uri.utf8.contains(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "%") }) {
            return (uri, [:])
        }
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = percentDecode(String(parts.first ?? "/")) ?? String(parts.first ?? "/")
        var query: [String: String] = [:]
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = percentDecode(String(kv[0]), plusIsSpace: true) ?? String(kv[0])
                let value = kv.count == 2 ? (percentDecode(String(kv[1]), plusIsSpace: true) ?? String(kv[1])) : ""
                query[key] = value
            }
        }
        return (path, query)
    }
}

/// Decodes `%XX` escapes; nil when an escape is malformed or the result is not UTF-8.
func percentDecode(_ s: String, plusIsSpace: Bool = false) -> String? {
    guard s.utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusIsSpace && $0 == UInt8(ascii: "+")) }) else {
        return s
    }
    var out: [UInt8] = []
    out.reserveCapacity(s.utf8.count)
    var it = s.utf8.makeIterator()
    func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
    while let c = it.next() {
        if c == UInt8(ascii: "%") {
            guard let h = it.next().flatMap(hex), let l = it.next().flatMap(hex) else { return nil }
            out.append(h << 4 | l)
        } else if plusIsSpace && c == UInt8(ascii: "+") {
            out.append(UInt8(ascii: " "))
        } else {
            out.append(c)
        }
    }
    return String(validating: out, as: UTF8.self)
}
