#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The seeds of a simulation test, and the environment variables that replay one of them.
///
/// A failing seed names itself in the test's message; setting `variable` to it (say
/// `GOSSIP_SEED=1234`) runs just that seed in every test that takes its seeds from here, and
/// setting `traceVariable` (to anything) asks the simulation to narrate.
public struct SeedReplay: Sendable {
    /// The variable holding the one seed to replay.
    public let variable: String
    /// The variable that turns narration on, if the simulation has any.
    public let traceVariable: String?

    public init(variable: String, traceVariable: String? = nil) {
        self.variable = variable
        self.traceVariable = traceVariable
    }

    /// The seed to replay, if `variable` is set to a number.
    public var replay: UInt64? {
        environment(variable).flatMap { UInt64($0) }
    }

    /// Whether `traceVariable` is set.
    public var verbose: Bool {
        traceVariable.map { environment($0) != nil } ?? false
    }

    /// The replayed seed alone, or `defaults`.
    public func list(_ defaults: [UInt64]) -> [UInt64] {
        replay.map { [$0] } ?? defaults
    }

    /// The replayed seed alone, or `count` seeds from `offset`.
    public func list(count: Int, offset: UInt64 = 0) -> [UInt64] {
        replay.map { [$0] } ?? (0..<UInt64(count)).map { $0 + offset }
    }

    /// The seeds of `list(count:offset:)` in `parts` chunks, which Swift Testing runs in parallel.
    public func chunks(count: Int, offset: UInt64 = 0, parts: Int = 8) -> [[UInt64]] {
        let seeds = list(count: count, offset: offset)
        let size = max(1, (seeds.count + parts - 1) / parts)
        return stride(from: 0, to: seeds.count, by: size).map { Array(seeds[$0..<min(seeds.count, $0 + size)]) }
    }

    /// How many seeds a run takes: the number in `variable` (`REDPACKET_SEEDS=1000`), else `defaults`.
    public static func count(_ variable: String, default defaults: Int) -> Int {
        getenv(variable).flatMap { Int(String(cString: $0)) } ?? defaults
    }

    private func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
