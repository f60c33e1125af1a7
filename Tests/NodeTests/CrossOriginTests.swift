import Logging
import NIOHTTP1
import Testing

@testable import Node

/// Which answers carry the CORS headers (`CrossOrigin.allow`): a page's request (`Origin`), and
/// any answer a cache may keep; not an app's, an encoder's or a peer's.
@Suite("Cross-origin headers")
struct CrossOriginTests {
    static let router: Router = {
        var router = Router(logger: Logger(label: "test"))
        router.addImmediate(.GET, "/plain") { _ in .json(["ok": true]) }
        router.addImmediate(.GET, "/tagged") { _ in
            var response = Response.json(["ok": true])
            response.headers.add(name: "ETag", value: "\"v1\"")
            response.headers.add(name: "Cache-Control", value: "no-cache")
            return response
        }
        router.addImmediate(.GET, "/unstored") { _ in
            var response = Response.json(["ok": true])
            response.headers.add(name: "Cache-Control", value: "no-store")
            return response
        }
        router.add(.GET, "/async") { _ in .json(["ok": true]) }
        return router
    }()

    static func answer(_ path: String, _ headers: [(String, String)] = [], method: HTTPMethod = .GET) async -> Response
    {
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: HTTPHeaders(headers))
        return await router.respond(to: Request(head: head, isHTTP2: false, remoteAddress: nil, body: .empty))
    }

    static func allowsOrigin(_ response: Response) -> Bool {
        response.headers.first(name: "Access-Control-Allow-Origin") == "*"
            && response.headers.first(name: "Access-Control-Expose-Headers") == CrossOrigin.exposedHeaders
    }

    @Test("a page's request (Origin) gets the headers, from immediate and async routes and errors alike")
    func pageRequests() async {
        let origin = [("Origin", "http://127.0.0.1:7001")]
        for path in ["/plain", "/async", "/unstored", "/missing"] {
            #expect(Self.allowsOrigin(await Self.answer(path, origin)), "\(path)")
        }
    }

    @Test("a request without Origin gets them only on an answer a cache may keep")
    func otherClients() async {
        #expect(!Self.allowsOrigin(await Self.answer("/plain")))
        #expect(!Self.allowsOrigin(await Self.answer("/async")))
        #expect(!Self.allowsOrigin(await Self.answer("/unstored")))
        #expect(!Self.allowsOrigin(await Self.answer("/missing")))
        #expect(Self.allowsOrigin(await Self.answer("/tagged")))
    }

    @Test("a preflight on any path is answered 204 with the methods and headers a page may use")
    func preflight() async {
        let response = await Self.answer(
            "/anything/at/all",
            [("Origin", "http://127.0.0.1:7001"), ("Access-Control-Request-Method", "POST")],
            method: .OPTIONS
        )
        #expect(response.status == .noContent)
        #expect(response.headers.first(name: "Access-Control-Allow-Methods") == CrossOrigin.allowedMethods)
        #expect(response.headers.first(name: "Access-Control-Allow-Headers") == CrossOrigin.allowedHeaders)
        #expect(Self.allowsOrigin(response))
    }
}
