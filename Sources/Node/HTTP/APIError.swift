import Foundation
import NIOCore
import NIOHTTP1

/// Every error a client or peer can receive, rendered in one place as
/// `{"error": {"code": "...", "message": "..."}}` with its HTTP status (API.md, Transport).
public struct APIError: Error, Sendable, Equatable {
    public var status: HTTPResponseStatus
    /// Stable machine-readable code (`not_a_member`, `bad_request`, ...).
    public var code: String
    /// Human-readable explanation; never includes secrets or internal state.
    public var message: String
    /// Extra headers, e.g. `Retry-After` on 429.
    public var headers: [(String, String)] = []

    public init(_ status: HTTPResponseStatus, _ code: String, _ message: String, headers: [(String, String)] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public static func == (a: APIError, b: APIError) -> Bool {
        a.status == b.status && a.code == b.code && a.message == b.message
    }

    public static func badRequest(_ message: String, code: String = "bad_request") -> APIError {
        APIError(.badRequest, code, message)
    }
    public static func notFound(_ message: String = "no such resource", code: String = "not_found") -> APIError {
        APIError(.notFound, code, message)
    }
    public static func unauthorized(_ message: String) -> APIError { APIError(.unauthorized, "unauthorized", message) }
    public static func forbidden(_ message: String, code: String = "forbidden") -> APIError {
        APIError(.forbidden, code, message)
    }
    public static func conflict(_ message: String, code: String = "conflict") -> APIError {
        APIError(.conflict, code, message)
    }
    public static func payloadTooLarge(limit: Int) -> APIError {
        APIError(.payloadTooLarge, "too_large", "request body exceeds \(limit) bytes")
    }
    public static func methodNotAllowed(_ allowed: [HTTPMethod]) -> APIError {
        APIError(
            .methodNotAllowed,
            "method_not_allowed",
            "allowed: " + allowed.map(\.rawValue).joined(separator: ", "),
            headers: [("Allow", allowed.map(\.rawValue).joined(separator: ", "))]
        )
    }
    public static func unavailable(_ message: String, code: String = "unavailable") -> APIError {
        APIError(.serviceUnavailable, code, message)
    }
    public static let internalError = APIError(.internalServerError, "internal", "internal error; see the node's log")

    /// The JSON body of this error.
    public func jsonBody() -> ByteBuffer {
        struct Envelope: Encodable {
            struct Inner: Encodable {
                var code: String
                var message: String
            }
            var error: Inner
        }
        let data = (try? JSONCoding.encoder.encode(Envelope(error: .init(code: code, message: message)))) ?? Data()
        return ByteBuffer(bytes: data)
    }

    /// This error as a complete response.
    public func response() -> Response {
        var response = Response(status: status, body: .buffer(jsonBody()))
        response.headers.add(name: "Content-Type", value: "application/json")
        for (name, value) in headers { response.headers.add(name: name, value: value) }
        return response
    }
}

extension APIError {
    /// The error a JSON error answer carries (one relayed from a peer), nil if it carries none.
    init?(answer: Response) {
        struct Envelope: Decodable {
            struct Detail: Decodable {
                var code: String
                var message: String
            }
            var error: Detail
        }
        guard case .buffer(let body) = answer.body,
            let envelope = try? JSONDecoder().decode(Envelope.self, from: Data(body.readableBytesView))
        else { return nil }
        self.init(answer.status, envelope.error.code, envelope.error.message)
    }
}
