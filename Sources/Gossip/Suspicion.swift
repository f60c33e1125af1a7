/// Lifeguard's dynamic suspicion timer.
///
/// It starts at the maximum timeout and shrinks logarithmically toward the minimum as independent
/// members confirm the suspicion: a real failure is seen by many and declared fast, while a
/// suspicion raised by one struggling node leaves the suspect time to refute it.
struct Suspicion: Sendable, Equatable {
    var start: GossipTime
    var minimum: GossipDuration
    var maximum: GossipDuration
    /// Confirmations needed to reach the minimum.
    var expected: Int
    /// Who has claimed the suspicion (the first accuser included, who does not count as a
    /// confirmation).
    var accusers: Set<MemberID>
    var confirmations: Int = 0

    init(start: GossipTime, accuser: MemberID, expected: Int, minimum: GossipDuration, maximum: GossipDuration) {
        self.start = start
        self.minimum = minimum
        self.maximum = maximum
        self.expected = expected
        self.accusers = [accuser]
    }

    /// Records a claim from `accuser`; true if it was a new, independent confirmation.
    mutating func confirm(_ accuser: MemberID) -> Bool {
        guard confirmations < expected, !accusers.contains(accuser) else { return false }
        accusers.insert(accuser)
        confirmations += 1
        return true
    }

    var timeout: GossipDuration {
        guard expected > 0 else { return minimum }
        let fraction = Double(confirmations + 1).naturalLog / Double(expected + 1).naturalLog
        let raw = maximum.seconds - (maximum.seconds - minimum.seconds) * fraction
        return .seconds(max(minimum.seconds, raw))
    }

    var deadline: GossipTime { start + timeout }
}
