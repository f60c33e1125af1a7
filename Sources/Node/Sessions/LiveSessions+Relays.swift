import Foundation
import Live
import Shard

/// Edge relays (issue 17, API.md "Hot sessions"): a node with no replica of a hot session serves
/// its viewers from a relay copy, fed once by the nearest copy over the node-to-node link and
/// fanned out here with the same hand-off viewers as a replica.
extension LiveSessions {
    /// The relay copy of `session` here, made and attached if needed, once it has its first
    /// feed; nil when it could not be fed in time (the caller redirects instead).
    ///
    /// `avoiding`: nodes it must not pull from (the relay that asked this node to relay for it).
    func relay(group: String, session: String, members: [String], avoiding: Set<String> = []) async -> SessionHost? {
        guard GroupLog.isSessionGroup(group), Self.isValidSessionID(session), host(session: session) == nil else {
            return nil
        }
        if let existing = relays.host(session: session) {
            return await existing.waitReady(for: relays.settings.readyTimeout) ? existing : nil
        }
        let task = relays.making.withLock { making -> Task<SessionHost?, Never> in
            if let task = making[session] { return task }
            let task = Task {
                await self.makeRelay(group: group, session: session, members: members, avoiding: avoiding)
            }
            making[session] = task
            return task
        }
        let host = await task.value
        relays.making.withLock { _ = $0.removeValue(forKey: session) }
        guard let host else { return nil }
        return await host.waitReady(for: relays.settings.readyTimeout) ? host : nil
    }

    private func makeRelay(
        group: String,
        session: String,
        members: [String],
        avoiding: Set<String>
    ) async
        -> SessionHost?
    {
        if let existing = relays.host(session: session) { return existing }
        guard let upstream = chooseUpstream(session: session, members: members, avoiding: avoiding) else {
            return nil
        }
        let host: SessionHost
        do {
            host = try await makeHost(group: group, session: session, origin: .relay)
        } catch {
            logger.error("cannot make a relay copy", metadata: ["live.session": "\(session)", "error": "\(error)"])
            return nil
        }
        relays.hosts.withLock { $0[session] = host }
        await host.attach(to: upstream, members: members)
        logger.info(
            "relaying a session",
            metadata: ["live.group": "\(group)", "live.session": "\(session)", "relay.upstream": "\(upstream)"]
        )
        guard await host.waitReady(for: relays.settings.readyTimeout) else {
            await dropRelay(host)
            return nil
        }
        return host
    }

    /// The copy this node should pull `session` from: `RelayTree.upstream` over the current view.
    func chooseUpstream(session: String, members: [String], avoiding: Set<String>) -> String? {
        let snapshot = view.snapshot
        var zones: [String: String] = [:]
        for member in snapshot.members { if let zone = member.zone { zones[member.id.rawValue] = zone } }
        return RelayTree.upstream(
            of: nodeID,
            session: session,
            replicas: members,
            alive: snapshot.aliveIDs.subtracting(drainingNodeIDs()),
            zones: zones,
            avoiding: avoiding,
            settings: RelayTree.Settings(fanout: relays.settings.fanout)
        )
    }

    /// Unsubscribes, closes the relay's viewers and forgets the copy.
    func dropRelay(_ host: SessionHost) async {
        relays.hosts.withLock { hosts in
            if hosts[host.sessionID] === host { hosts[host.sessionID] = nil }
        }
        await host.detach()
        logger.info(
            "relay copy dropped",
            metadata: ["live.group": "\(host.group)", "live.session": "\(host.sessionID)"]
        )
    }

    /// Checks every relay copy (`SessionHost.relayTick`) every `checkEvery`, gives their viewers
    /// stats and pings once a second, and keeps the relay gauges.
    func runRelays() async {
        var lastStats = ContinuousClock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: relays.settings.checkEvery)
            let alive = view.snapshot.aliveIDs
            let statsDue = ContinuousClock.now - lastStats >= .seconds(1)
            if statsDue { lastStats = .now }
            var upstreams = 0
            for host in relays.all {
                let verdict = await host.relayTick(alive: alive, linger: relays.settings.linger) { members, avoiding in
                    self.chooseUpstream(session: host.sessionID, members: members, avoiding: avoiding)
                }
                switch verdict {
                case .keep:
                    if statsDue { await host.tick() }
                    upstreams += 1
                case .drop:
                    await dropRelay(host)
                case .lost:
                    await relocate(host)
                }
            }
            metrics.relaySessions.set(relays.hosts.withLock { $0.count })
            metrics.relayUpstreams.set(upstreams)
            // Counting the relays every copy feeds visits every session's actor: once a second
            // with the stats, not at every check.
            guard statsDue else { continue }
            var downstream = 0
            for host in allHosts + relays.all { downstream += await host.downstreamRelays.count }
            metrics.relayDownstream.set(downstream)
        }
    }

    /// A relay whose known replica set is gone: looks the session up again, and re-attaches
    /// with the new replica set, or drops the copy when the group's live is another one now.
    private func relocate(_ host: SessionHost) async {
        guard let locate = relays.locate.withLock({ $0 }), let location = await locate(host.group) else { return }
        guard location.session == host.sessionID else {
            await dropRelay(host)
            return
        }
        guard let upstream = chooseUpstream(session: host.sessionID, members: location.members, avoiding: []) else {
            return
        }
        await host.attach(to: upstream, members: location.members)
    }

    /// A relay's subscribe to a session this node holds no copy of: the tree put this node
    /// above it, so it relays in turn (never pulling from the relay that asked).
    func subscribeWithoutCopy(
        group: String,
        session: String,
        from node: String,
        after: UInt64,
        restart: Bool,
        members: [String]
    ) {
        guard !members.isEmpty, !isDraining else { return }
        Task {
            guard let host = await self.relay(group: group, session: session, members: members, avoiding: [node]) else {
                return
            }
            await host.subscribed(node, after: after, restart: true)
        }
    }
}
