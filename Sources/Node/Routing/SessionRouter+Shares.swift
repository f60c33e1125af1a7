import Live

extension SessionRouter {
    /// The live `group` stands for when a live was shared into it (its pointer's
    /// `sharedFrom`), else nil: from the copy held here or the group's lookup (cached briefly).
    func shareSource(of group: String) async -> (group: String, session: String)? {
        let pointer: String?
        if let host = sessions.host(group: group) {
            pointer = host.sharedFrom.withLock { $0 }
        } else {
            pointer = await locate(group: group)?.sharedFrom
        }
        return pointer.flatMap(Self.parsePointer)
    }

    /// `"<group>/<session>"` → its parts.
    static func parsePointer(_ pointer: String) -> (group: String, session: String)? {
        let parts = pointer.split(separator: "/", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        return (String(parts[0]), String(parts[1]))
    }
}
