import NIOHTTP1

/// CORS for the browser pages: the watch page and console served by one node call the other
/// nodes of the cluster (another port is another origin) when their own node is gone, and the
/// console drains each node at that node. Credentials are bearer tokens in a header, never
/// cookies, so any origin may call: a page still needs a token to do anything.
enum CrossOrigin {
    /// Headers a page may send: the token, JSON bodies, the event stream's resume point and
    /// the relay request.
    static let allowedHeaders = "Authorization, Content-Type, Last-Event-ID, Qunbo-Route"
    static let allowedMethods = "GET, HEAD, POST, PUT, DELETE"
    /// Headers a page may read: who answered, which replica, when to retry.
    static let exposedHeaders = "Qunbo-Node, Qunbo-Replica, Retry-After"

    /// The answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`), or nil for
    /// any other request.
    static func preflight(_ request: Request) -> Response? {
        guard request.method == .OPTIONS,
            request.headers.first(name: "Access-Control-Request-Method") != nil
        else { return nil }
        var response = Response(status: .noContent)
        response.headers.add(name: "Access-Control-Allow-Methods", value: allowedMethods)
        response.headers.add(name: "Access-Control-Allow-Headers", value: allowedHeaders)
        response.headers.add(name: "Access-Control-Max-Age", value: "600")
        response.route = "preflight"
        return response
    }

    /// Marks `response` readable by pages of any origin when it answers a page's request (one
    /// with `Origin`: browsers send it on every cross-origin fetch, XHR and EventSource), or when
    /// a cache may keep it (`ETag`, `Last-Modified` or a `Cache-Control` other than `no-store`):
    /// a stored copy could later answer a page, and must carry the headers then. Apps, encoders
    /// and peers send no `Origin`: their answers go without the two headers, which on HTTP/2
    /// cost each request about as much as routing it (ops/BENCHMARKS.md, "HTTP server").
    static func allow(_ response: inout Response, for request: Request) {
        guard request.headers.contains(name: "Origin") || mayBeStored(response) else { return }
        response.headers.replaceOrAdd(name: "Access-Control-Allow-Origin", value: "*")
        response.headers.replaceOrAdd(name: "Access-Control-Expose-Headers", value: exposedHeaders)
    }

    private static func mayBeStored(_ response: Response) -> Bool {
        let headers = response.headers
        if headers.contains(name: "ETag") || headers.contains(name: "Last-Modified") { return true }
        let cacheControl = headers[canonicalForm: "Cache-Control"]
        return !cacheControl.isEmpty && !cacheControl.contains { $0.lowercased() == "no-store" }
    }
}
