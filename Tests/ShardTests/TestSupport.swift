import Shard

/// The cores' SplitMix64, so "random" node sets are the same on every run.
typealias SeededGenerator = SplitMix64

/// Node ids as a cluster would name them; zones round-robin when `zones` > 0.
func makeNodes(_ count: Int, zones: Int = 0, prefix: String = "node") -> [ShardNode] {
    (0..<count).map { ShardNode(id: "\(prefix)-\($0)", zone: zones > 0 ? "zone-\($0 % zones)" : nil) }
}

func makeGroups(_ count: Int) -> [String] {
    (0..<count).map { "group-\($0)" }
}

/// Balance and movement of one placement change, the figures the issue asks for.
struct PlacementFigures: CustomStringConvertible {
    var maxOverMean: Double
    var primaryMovedFraction: Double
    var idealMovedFraction: Double
    var slotMovedFraction: Double
    var movedOverIdeal: Double { primaryMovedFraction / idealMovedFraction }
    var slotsOverIdeal: Double { slotMovedFraction / idealMovedFraction }

    var description: String {
        let f = { (x: Double) in String(Int((x * 1000).rounded())).paddingLeft(5) }
        return
            "max/mean ×1000 \(f(maxOverMean)) moved/ideal ×1000 \(f(movedOverIdeal)) slots/ideal ×1000 \(f(slotsOverIdeal))"
    }
}

extension String {
    func paddingLeft(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}

/// max/mean of primaries per node for a list of primaries over `nodes`.
func maxOverMean(_ primaries: [String], nodeCount: Int) -> Double {
    var counts: [String: Int] = [:]
    for primary in primaries { counts[primary, default: 0] += 1 }
    let mean = Double(primaries.count) / Double(nodeCount)
    return Double(counts.values.max() ?? 0) / mean
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An environment variable, read without Foundation.
func environment(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
}
