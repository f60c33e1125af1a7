/// What one `board` event draws or shows (课件/白板, API.md "Courseware and whiteboard").
///
/// Coordinates and widths are fractions of the video picture kept in ten-thousandths, so a
/// stroke is a few bytes a point in the log and renders as the same JSON on every node.
public struct LiveBoard: Codable, Sendable, Equatable, Hashable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// A courseware page: `url` of the event and `page`.
        case slide
        /// A pen stroke: `points`, `color`, `width`.
        case stroke
        /// Wipes the strokes.
        case clear
    }

    public var kind: Kind
    /// `slide`: the page number, from 1.
    public var page: Int?
    /// `stroke`: x, y, x, y, … in ten-thousandths of the picture's width and height
    /// (0…10,000, origin top-left).
    public var points: [UInt16]
    /// `stroke`: `#rrggbb`.
    public var color: String?
    /// `stroke`: the pen's width in ten-thousandths of the picture's width.
    public var width: Int?

    public init(kind: Kind, page: Int? = nil, points: [UInt16] = [], color: String? = nil, width: Int? = nil) {
        self.kind = kind
        self.page = page
        self.points = points
        self.color = color
        self.width = width
    }

    /// The board's fields in the event's public shape: `kind`, then `page` or `points`, `color`,
    /// `width` (the slide's `url` is the event's own).
    func apiJSONObject() -> [(String, LiveJSONValue)] {
        var fields: [(String, LiveJSONValue)] = [("kind", .string(kind.rawValue))]
        if let page { fields.append(("page", .int(Int64(page)))) }
        if kind == .stroke {
            var pairs: [LiveJSONValue] = []
            pairs.reserveCapacity(points.count / 2)
            var index = 0
            while index + 1 < points.count {
                pairs.append(
                    .array([
                        .fraction(tenThousandths: Int(points[index])),
                        .fraction(tenThousandths: Int(points[index + 1])),
                    ])
                )
                index += 2
            }
            fields.append(("points", .array(pairs)))
        }
        if let color { fields.append(("color", .string(color))) }
        if let width { fields.append(("width", .fraction(tenThousandths: width))) }
        return fields
    }
}
