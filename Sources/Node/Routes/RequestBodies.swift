import Foundation
import NIOCore

/// JSON bodies of the client API. Unknown fields are ignored; a known field of the wrong type,
/// a missing required field, invalid UTF-8 or malformed JSON is a 400 that changes nothing.
struct StartBody: Decodable {
    var title: String?
    var record: Bool?
    /// The scheduled live this start fulfils (`POST …/schedule`'s `id`).
    var schedule: String?
}

/// `POST /v1/groups/{g}/schedule`.
struct ScheduleBody: Decodable {
    var id: String
    var title: String
    /// RFC 3339, e.g. `2026-12-24T20:00:00Z`.
    var startsAt: String
}

struct TextBody: Decodable {
    var text: String
    var id: String
}

struct PinBody: Decodable {
    var text: String
}

struct LikesBody: Decodable {
    var count: Int
}

struct TipBody: Decodable {
    var amount: Int64
    var currency: String
    var id: String
}

struct ModerationBody: Decodable {
    var action: String
    var user: String
}

extension Request {
    /// Reads and decodes a JSON body of at most `limit` bytes.
    func decodeJSON<T: Decodable>(_ type: T.Type, limit: Int, emptyAs empty: T? = nil) async throws -> T {
        let buffer = try await body.collect(upTo: limit)
        if buffer.readableBytes == 0, let empty { return empty }
        let bytes = Array(buffer.readableBytesView)
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw APIError.badRequest("the body is not valid UTF-8", code: "bad_json")
        }
        do {
            return try JSONCoding.decoder.decode(T.self, from: Data(bytes))
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw APIError.badRequest("wrong type at \(Self.path(context.codingPath))", code: "bad_json")
        } catch let DecodingError.keyNotFound(key, _) {
            throw APIError.badRequest("missing field \(key.stringValue)", code: "bad_json")
        } catch {
            throw APIError.badRequest("malformed JSON body", code: "bad_json")
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.isEmpty ? "the top level" : keys.map(\.stringValue).joined(separator: ".")
    }
}

struct RedPacketBody: Decodable {
    var id: String
    var total: Int64
    var currency: String
    var shares: Int
}

struct ProductBody: Decodable {
    var id: String
    var title: String
    var price: Int64
    var currency: String
    var url: String?
    var image: String?
}

struct BoardBody: Decodable {
    var kind: String
    var url: String?
    var page: Int?
    var points: [[Double]]?
    var color: String?
    var width: Double?
}
