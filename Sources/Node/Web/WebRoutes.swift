import Live
import NIOHTTP1

/// The browser side (API.md, "In the browser"): the watch page, the operator console and the
/// SDK they are built on. No token is needed for these files; the pages read the token from the
/// URL fragment, which browsers never send to a server, and call the API with it.
enum WebRoutes {
    /// Scripts, styles and media only from the node (or, for `connect-src` and `media-src`, any
    /// node of the cluster: the SDK moves to another node when its own is gone); no inline
    /// script or style, no plugins, no framing, no `<base>` games. Images from any http(s) site:
    /// product cards and slides link their pictures from the host's shop or courseware (an
    /// image runs no code; the pages send no referrer).
    static let contentSecurityPolicy = [
        "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob: http: https:",
        "media-src 'self' blob: http: https:", "connect-src 'self' http: https:", "object-src 'none'",
        "base-uri 'none'", "frame-ancestors 'none'", "form-action 'none'",
    ].joined(separator: "; ")

    static func register(into router: inout Router) {
        router.add(.GET, "/watch/:g") { request in
            guard GroupID(request.parameters["g"] ?? "") != nil else {
                throw APIError.badRequest("group ids are [A-Za-z0-9_-]{1,64}", code: "bad_group")
            }
            return serve(.watchPage, request)
        }
        router.add(.GET, "/console") { request in serve(.consolePage, request) }
        router.add(.GET, "/sdk/qunbo.js") { request in serve(.sdk, request) }
        router.add(.GET, "/web/:name") { request in
            guard let asset = WebAsset.pageFiles[request.parameters["name"] ?? ""] else {
                throw APIError.notFound("no such page file")
            }
            return serve(asset, request)
        }
    }

    /// `asset` with the headers every page file carries; 304 when the browser's copy is current.
    static func serve(_ asset: WebAsset, _ request: Request) -> Response {
        var response = Response(body: .buffer(asset.bytes))
        if request.headers.first(name: "If-None-Match") == asset.etag {
            response = Response(status: .notModified)
        } else {
            response.headers.add(name: "Content-Type", value: asset.contentType)
        }
        response.headers.add(name: "ETag", value: asset.etag)
        // Revalidate every time: a node upgrade must not leave an old page talking to a new API.
        response.headers.add(name: "Cache-Control", value: "no-cache")
        response.headers.add(name: "Content-Security-Policy", value: contentSecurityPolicy)
        response.headers.add(name: "Referrer-Policy", value: "no-referrer")
        response.headers.add(name: "X-Content-Type-Options", value: "nosniff")
        response.headers.add(name: "X-Frame-Options", value: "DENY")
        return response
    }
}
