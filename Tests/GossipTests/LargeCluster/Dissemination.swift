import Gossip

extension Simulation {
    /// Runs `action`, then until every running node other than `subject` has reported a change
    /// about `subject` that `matches`, or `limit` seconds. Returns the virtual seconds from the
    /// action to the last such report (exact, from the changes as they happen), or nil.
    ///
    /// A join (`start(subject)`, reported as a new alive member) and a load publication (`setLoad`,
    /// a raised incarnation, the same path as a refutation) spread by piggybacking, by the subject's
    /// own messages and by push-pull, as in a real cluster.
    func timeUntilAllReport(
        _ subject: Int,
        limit: Double,
        matches: @escaping (Member) -> Bool,
        action: () -> Void
    ) -> Double? {
        let subjectID = nodes[subject].id
        let start = now
        var seen = Array(repeating: false, count: nodes.count)
        var count = 0
        var last: Double?
        let previous = onChange
        onChange = { change in
            guard change.member.id == subjectID, change.observer != subject, !seen[change.observer],
                matches(change.member)
            else { return }
            seen[change.observer] = true
            count += 1
            last = (change.time - start).seconds
        }
        defer { onChange = previous }
        action()
        let observers = runningIndices.filter { $0 != subject }.count
        let done = run(for: limit, checkEvery: 0.05) { _ in count >= observers }
        return done == nil ? nil : last
    }
}
