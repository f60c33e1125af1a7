import Determinism

/// The Live tests' generator: the cores' own SplitMix64, so fuzz, split and property tests are
/// reproducible from a seed.
typealias LiveTestRNG = SplitMix64

extension SplitMix64 {
    /// `count` random bytes.
    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
    }
}
