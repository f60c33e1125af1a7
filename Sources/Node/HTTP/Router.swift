import Logging
import NIOHTTP1

/// A route handler. Throwing an `APIError` answers with it; any other error is logged and
/// answered 500 without detail.
public typealias RouteHandler = @Sendable (Request) async throws -> Response

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
        var handler: RouteHandler
    }

    private var routes: [Route] = []
    private let logger: Logger
    /// Runs before any route: may rewrite the request (drop headers, mark a peer) or refuse it.
    /// Set to `PeerGate.admit` by the node.
    public var admission: (@Sendable (inout Request) -> APIError?)?

    public init(logger: Logger) {
        self.logger = logger
    }

    /// Adds a route; `pattern` is a path such as `/v1/groups/:g/live`.
    public mutating func add(_ method: HTTPMethod, _ pattern: String, _ handler: @escaping RouteHandler) {
        let segments = pattern.split(separator: "/").map { part -> Segment in
            part.hasPrefix(":") ? .parameter(String(part.dropFirst())) : .literal(String(part))
        }
        routes.append(Route(method: method, segments: segments, pattern: pattern, handler: handler))
    }

    /// Finds the handler for `request`, runs it, and maps errors to API errors; every answer
    /// is readable cross-origin (`CrossOrigin`), and preflights are answered here.
    public func respond(to incoming: Request) async -> Response {
        var response = await route(incoming)
        CrossOrigin.allow(&response)
        return response
    }

    private func route(_ incoming: Request) async -> Response {
        var request = incoming
        if let admission, let refusal = admission(&request) {
            var response = refusal.response()
            response.route = "peer_auth"
            return response
        }
        if let preflight = CrossOrigin.preflight(request) { return preflight }
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        var allowed: [HTTPMethod] = []
        var matchedPattern: String?
        for route in routes {
            guard let parameters = Self.match(route.segments, parts) else { continue }
            let method = request.method == .HEAD ? HTTPMethod.GET : request.method
            guard route.method == method else {
                allowed.append(route.method)
                matchedPattern = route.pattern
                continue
            }
            var request = request
            request.parameters = parameters
            var response: Response
            do {
                response = try await route.handler(request)
            } catch let error as APIError {
                response = error.response()
            } catch is ConnectionClosed {
                response = APIError.badRequest("the request body ended early").response()
            } catch {
                logger.error(
                    "handler failed",
                    metadata: ["http.route": "\(route.pattern)", "error": "\(String(reflecting: error))"]
                )
                response = APIError.internalError.response()
            }
            response.route = route.pattern
            return response
        }
        var response =
            allowed.isEmpty
            ? APIError.notFound("no route for \(request.path)").response()
            : APIError.methodNotAllowed(allowed).response()
        response.route = matchedPattern ?? "unmatched"
        return response
    }

    static func match(_ segments: [Segment], _ parts: [String]) -> [String: String]? {
        guard segments.count == parts.count else { return nil }
        var parameters: [String: String] = [:]
        for (segment, part) in zip(segments, parts) {
            switch segment {
            case .literal(let literal): guard literal == part else { return nil }
            case .parameter(let name): parameters[name] = part
            }
        }
        return parameters
    }
}
