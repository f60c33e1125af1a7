import Logging
import NIOHTTP1

/// A route handler. Throwing an `APIError` answers with it; any other error is logged and
/// answered 500 without detail.
public typealias RouteHandler = @Sendable (Request) async throws -> Response

/// A route handler that answers at once from memory, never waiting: the server runs it on the
/// connection's event loop, with no task and no hop between threads (`Router.addImmediate`).
public typealias ImmediateRouteHandler = @Sendable (Request) throws -> Response

/// What routing decided for a request before any handler waited (`Router.resolve`).
enum Routing: Sendable {
    /// Answered already: a refusal, a preflight, an error, or an immediate route's response.
    case answered(Response)
    /// `handler` must run (in a task) on `request`, which has its route parameters bound.
    case run(RouteHandler, Request, pattern: String)
}

/// Matches method and path to a handler. Built once at start-up, then immutable (and so
/// `Sendable`); patterns bind `:name` segments into `Request.parameters`.
public struct Router: Sendable {
    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    struct Route: Sendable {
        var method: HTTPMethod
        var segments: [Segment]
        var pattern: String
        var handler: Handler
    }

    enum Handler: Sendable {
        case async(RouteHandler)
        case immediate(ImmediateRouteHandler)
    }

    private var routes: [Route] = []
    /// Indices into `routes` by segment count, in order: a path is only matched against the
    /// routes that could match it (a handful), not all of them, on every request.
    private var bySegmentCount: [Int: [Int]] = [:]
    private let logger: Logger
    /// Runs before any route: may rewrite the request (drop headers, mark a peer) or refuse it.
    /// Set to `PeerGate.admit` by the node.
    public var admission: (@Sendable (inout Request) -> APIError?)?

    public init(logger: Logger) {
        self.logger = logger
    }

    /// Adds a route; `pattern` is a path such as `/v1/groups/:g/live`.
    public mutating func add(_ method: HTTPMethod, _ pattern: String, _ handler: @escaping RouteHandler) {
        add(method, pattern, .async(handler))
    }

    /// Adds a route answered on the event loop (see `ImmediateRouteHandler`): only for handlers
    /// that read memory and return, such as `/healthz`, probed thousands of times a second.
    public mutating func addImmediate(
        _ method: HTTPMethod,
        _ pattern: String,
        _ handler: @escaping ImmediateRouteHandler
    ) {
        add(method, pattern, .immediate(handler))
    }

    private mutating func add(_ method: HTTPMethod, _ pattern: String, _ handler: Handler) {
        let segments = pattern.split(separator: "/").map { part -> Segment in
            part.hasPrefix(":") ? .parameter(String(part.dropFirst())) : .literal(String(part))
        }
        bySegmentCount[segments.count, default: []].append(routes.count)
        routes.append(Route(method: method, segments: segments, pattern: pattern, handler: handler))
    }

    /// Finds the handler for `request`, runs it, and maps errors to API errors; every answer
    /// to a page is readable cross-origin (`CrossOrigin`), and preflights are answered here.
    public func respond(to incoming: Request) async -> Response {
        switch resolve(incoming) {
        case .answered(let response): return response
        case .run(let handler, let request, let pattern): return await run(handler, on: request, pattern: pattern)
        }
    }

    /// Admits and matches `incoming` and runs it when its route is immediate; what is left is an
    /// async handler to run. Admission runs here once (a peer's signature nonce is spent by it).
    func resolve(_ incoming: Request) -> Routing {
        switch match(incoming) {
        case .answered(var response):
            CrossOrigin.allow(&response, for: incoming)
            return .answered(response)
        case .run(let handler, let request, let pattern):
            return .run(handler, request, pattern: pattern)
        }
    }

    /// Runs an async route's handler (what `resolve` left), errors mapped, CORS applied.
    func run(_ handler: RouteHandler, on request: Request, pattern: String) async -> Response {
        var response: Response
        do {
            response = try await handler(request)
        } catch {
            response = answer(error, pattern: pattern)
        }
        response.route = pattern
        CrossOrigin.allow(&response, for: request)
        return response
    }

    /// The response for a handler's error.
    private func answer(_ error: any Error, pattern: String) -> Response {
        switch error {
        case let error as APIError:
            return error.response()
        case is ConnectionClosed:
            return APIError.badRequest("the request body ended early").response()
        default:
            logger.error(
                "handler failed",
                metadata: ["http.route": "\(pattern)", "error": "\(String(reflecting: error))"]
            )
            return APIError.internalError.response()
        }
    }

    private func match(_ incoming: Request) -> Routing {
        var request = incoming
        if let admission, let refusal = admission(&request) {
            var response = refusal.response()
            response.route = "peer_auth"
            return .answered(response)
        }
        if let preflight = CrossOrigin.preflight(request) { return .answered(preflight) }
        // Split on the bytes: splitting the String would walk it by grapheme.
        let parts = request.path.utf8.split(separator: UInt8(ascii: "/")).map { Substring($0) }
        var allowed: [HTTPMethod] = []
        var matchedPattern: String?
        for index in bySegmentCount[parts.count] ?? [] {
            let route = routes[index]
            guard let parameters = Self.match(route.segments, parts) else { continue }
            let method = request.method == .HEAD ? HTTPMethod.GET : request.method
            guard route.method == method else {
                allowed.append(route.method)
                matchedPattern = route.pattern
                continue
            }
            request.parameters = parameters
            switch route.handler {
            case .async(let handler):
                return .run(handler, request, pattern: route.pattern)
            case .immediate(let handler):
                var response: Response
                do {
                    response = try handler(request)
                } catch {
                    response = answer(error, pattern: route.pattern)
                }
                response.route = route.pattern
                return .answered(response)
            }
        }
        var response =
            allowed.isEmpty
            ? APIError.notFound("no route for \(request.path)").response()
            : APIError.methodNotAllowed(allowed).response()
        response.route = matchedPattern ?? "unmatched"
        return .answered(response)
    }

    static func match(_ segments: [Segment], _ parts: [some StringProtocol]) -> [String: String]? {
        guard segments.count == parts.count else { return nil }
        var parameters: [String: String] = [:]
        for (segment, part) in zip(segments, parts) {
            switch segment {
            case .literal(let literal): guard literal == part else { return nil }
            case .parameter(let name): parameters[name] = String(part)
            }
        }
        return parameters
    }
}
