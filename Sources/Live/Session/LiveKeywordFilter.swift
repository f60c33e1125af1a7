/// The node's keyword filter: rejects comment and question text that contains any configured
/// word, case-insensitively, anywhere (substring), after Unicode lowercasing of both sides.
///
/// Matching compares Characters (grapheme clusters, canonical equivalence), so a precomposed and
/// a decomposed "é" match each other. An empty filter matches nothing.
public struct LiveKeywordFilter: Sendable, Equatable {
    /// The lowercased, trimmed, non-empty words, deduplicated.
    public let words: [String]

    /// Builds a filter from configured words; blank entries are ignored.
    public init(words: [String] = []) {
        var seen = Set<String>()
        var kept: [String] = []
        for word in words {
            let normalized = LiveText.trimmed(word).lowercased()
            if !normalized.isEmpty, seen.insert(normalized).inserted { kept.append(normalized) }
        }
        self.words = kept
    }

    /// Whether `text` contains any of the words.
    public func matches(_ text: String) -> Bool {
        guard !words.isEmpty else { return false }
        let lowered = text.lowercased()
        return words.contains { lowered.contains($0) }
    }
}

/// Text helpers shared by the session's validations (no Foundation in the core).
public enum LiveText {
    /// `text` without leading and trailing whitespace and newlines.
    public static func trimmed(_ text: String) -> String {
        guard let first = text.firstIndex(where: { !$0.isWhitespace }),
            let last = text.lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(text[first...last])
    }
}
