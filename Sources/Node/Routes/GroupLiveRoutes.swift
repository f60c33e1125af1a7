import Live
import NIOHTTP1

/// The group-live features (API.md "Group-live features"): red packets, product cards, the
/// board. Each is a logged write through `SessionRouter.write`, so it is decided once at the
/// primary, durable before it is answered and in the session's one order.
extension LiveRoutes {
    /// A `stroke` of the contract's 2,000 points is about 32 KiB of JSON; the board route takes
    /// up to this much, so an oversized stroke gets the 400 that says why, not a 413.
    static let boardBodyBytes = 256 * 1024

    func registerGroupFeatures(into router: inout Router) {
        writeRoute(.POST, "/v1/groups/:g/live/redpackets", into: &router) { request, _ in
            let body = try await request.decodeJSON(RedPacketBody.self, limit: maxBodyBytes)
            return .redPacket(total: body.total, currency: body.currency, shares: body.shares, clientID: body.id)
        }
        router.add(.POST, "/v1/groups/:g/live/redpackets/:id/grab") { request in
            let (actor, group) = try await actor(request)
            let answer = try await cluster.write(
                group: group,
                command: .grab(redPacket: request.parameters["id"] ?? ""),
                actor: actor
            )
            guard let amount = answer.amount, let currency = answer.currency, let seq = answer.seq else {
                throw APIError.internalError
            }
            // 201 for the grab that took the share, 200 for every later ask of the same user.
            return .rawJSON(
                #"{"amount":\#(amount),"currency":"\#(currency)","seq":\#(seq)}"#,
                status: answer.repeated == true ? .ok : .created
            )
        }
        writeRoute(.POST, "/v1/groups/:g/live/products", into: &router) { request, _ in
            let body = try await request.decodeJSON(ProductBody.self, limit: maxBodyBytes)
            return .product(
                LiveProductDraft(
                    id: body.id,
                    title: body.title,
                    price: body.price,
                    currency: body.currency,
                    url: body.url,
                    image: body.image
                )
            )
        }
        writeRoute(.POST, "/v1/groups/:g/live/products/:id/spotlight", into: &router) { request, _ in
            .spotlight(product: request.parameters["id"] ?? "")
        }
        repeatableWriteRoute(.POST, "/v1/groups/:g/live/products/:id/clicks", into: &router) { request, _ in
            .click(product: request.parameters["id"] ?? "")
        }
        writeRoute(.POST, "/v1/groups/:g/live/board", into: &router) { request, _ in
            let body = try await request.decodeJSON(BoardBody.self, limit: max(maxBodyBytes, Self.boardBodyBytes))
            guard let kind = LiveBoard.Kind(rawValue: body.kind) else {
                throw APIError.badRequest("kind: slide, stroke or clear", code: "bad_request")
            }
            return .board(
                LiveBoardDraft(
                    kind: kind,
                    url: body.url,
                    page: body.page,
                    points: body.points,
                    color: body.color,
                    width: body.width
                )
            )
        }
    }

    /// A write answered 201 the first time and 200 with the first answer after (a click).
    func repeatableWriteRoute(
        _ method: HTTPMethod,
        _ pattern: String,
        into router: inout Router,
        _ command: @escaping @Sendable (Request, LiveActor) async throws -> LiveCommand
    ) {
        router.add(method, pattern) { request in
            let (actor, group) = try await actor(request)
            let answer = try await cluster.write(group: group, command: try await command(request, actor), actor: actor)
            return seqResponse(answer, status: answer.repeated == true ? .ok : .created)
        }
    }
}
