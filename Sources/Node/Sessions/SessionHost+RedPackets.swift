import Live

/// Red packets' unclaimed shares going back to their senders: by the primary's clock once
/// their TTL passed, and all of them before the end.
extension SessionHost {
    /// The primary's red-packet clock: packets past their TTL with shares left go back to their
    /// senders (`redpacket_expired`), one pass at a time.
    func expireDueRedPackets() {
        guard replica.role == .primary, !expiringRedPackets, session.state.phase == .live else { return }
        let now = LiveSessions.nowMillis()
        guard session.state.redPackets.values.contains(where: { $0.open && $0.expiresAt <= now }) else { return }
        expiringRedPackets = true
        Task {
            defer { self.expiringRedPackets = false }
            do {
                try await self.expireRedPackets(dueBy: now, now: now)
            } catch {
                self.logger.warning("red packet expiry failed; retried next tick", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Returns the unclaimed shares of red packets due by `dueBy` (every open one when nil: the
    /// live is ending) to their senders, one `redpacket_expired` each. Primary only.
    func expireRedPackets(dueBy: Int64?, now: Int64) async throws {
        let due = session.state.redPackets.filter { _, packet in
            packet.open && (dueBy.map { packet.expiresAt <= $0 } ?? true)
        }
        for id in due.keys.sorted() {
            do {
                _ = try await write(.expireRedPacket(id), by: LiveActor(user: info.host, role: .owner), now: now)
            } catch let error as LiveError where error.httpStatus == 410 {
                continue  // taken or expired meanwhile
            }
        }
    }
}
