import Foundation
import Live
import Shard

/// What the node's peers send about the sessions held here: replication messages (a first
/// append makes this node a replica), relayed media, drain and removal notices.
extension LiveSessions {
    // MARK: Links

    /// A message from a peer's link, in the order it was sent.
    func deliver(_ message: LinkMessage, from peer: String) async {
        switch message {
        case .replication(let group, let replication):
            var host = host(session: replication.session)
            if host == nil, GroupLog.isSessionGroup(group), Self.isValidSessionID(replication.session),
                Self.isAppend(replication.kind)
                    || ReplicaStore.settledCommit(in: directory(group: group, session: replication.session)) != nil
            {
                // A primary shipped us a session we do not hold, or a message came for a settled
                // copy that left memory: load it (from its log, when there is one).
                host = await adoptReplica(group: group, session: replication.session)
            }
            guard let host else {
                replicationMetrics.messagesDropped.increment()
                return
            }
            await host.receive(replication, from: replication.sender)
        case .media(_, let session, let bytes):
            if let host = host(session: session) {
                await host.relayed(bytes)
            } else {
                await relays.host(session: session)?.relayFedMedia(bytes, from: peer)
            }
        case .leaving(_, _, let node):
            let known = draining.withLock { $0.updateValue(ContinuousClock.now, forKey: node) != nil }
            if !known { viewChangedHere() }
        case .removed(_, let session, let node, let epoch):
            guard node == nodeID else { return }
            feed { directory, _ in directory.removalNotice(session: session, epoch: epoch) }
        case .subscribe(let group, let session, let node, let after, let restart, let members):
            guard node == peer else { return }
            if let source = host(session: session) ?? relays.host(session: session) {
                await source.subscribed(node, after: after, restart: restart)
            } else {
                subscribeWithoutCopy(
                    group: group,
                    session: session,
                    from: node,
                    after: after,
                    restart: restart,
                    members: members
                )
            }
        case .feed(let feed):
            await relays.host(session: feed.session)?.fed(feed, from: peer)
        case .unsubscribe(_, let session, let node):
            guard node == peer else { return }
            await (host(session: session) ?? relays.host(session: session))?.unsubscribed(node)
        }
    }

    static func isAppend(_ kind: ReplicationMessage.Kind) -> Bool {
        if case .append = kind { return true }
        return false
    }

    /// A primary shipped us a session we do not hold: we are a new replica of it.
    func adoptReplica(group: String, session: String) async -> SessionHost? {
        do {
            // A log on disk (this node held the session before, and was removed or restarted)
            // is where it resumes: the primary may count on entries it already acknowledged.
            let dir = directory(group: group, session: session)
            let origin: SessionHost.Origin = ReplicaStore.exists(in: dir) ? .restore : .replica
            let host = try await makeHost(group: group, session: session, origin: origin)
            ReplicaStore.clearRemoved(in: dir)
            let (stored, fresh) = hosts.withLock { hosts -> (SessionHost, Bool) in
                if let existing = hosts[session] { return (existing, false) }
                hosts[session] = host
                return (host, true)
            }
            if fresh {
                let copy = await host.copy
                feed { $0.adopted(copy, now: $1) }
                logger.info("replica of a session", metadata: ["live.group": "\(group)", "live.session": "\(session)"])
            }
            return stored
        } catch {
            logger.error("cannot hold a replica", metadata: ["live.session": "\(session)", "error": "\(error)"])
            return nil
        }
    }
}
