import Live
import NIOCore
import Shard

/// What a copy knows of edge relays (issue 17): the relays it feeds (any copy: a replica, or a
/// relay one level up) and, on a relay, its own upstream.
struct RelayState {
    /// One relay this copy feeds.
    struct Downstream {
        /// Every committed entry up to this log seq has been sent to it.
        var cursor: UInt64
        /// Its last subscribe: a relay renews about once a second, and one silent for
        /// `SessionHost.downstreamLease` is gone (its node died or dropped the copy).
        var renewed: ContinuousClock.Instant
    }

    var downstream: [String: Downstream] = [:]
    /// The epoch last announced to the relays fed here: a change goes out (as a heartbeat feed)
    /// before the first media of the new epoch, on the same ordered link.
    var announcedEpoch: UInt64 = 0

    // Relay only.

    /// The copy this relay pulls from.
    var upstream: String?
    /// Every committed entry up to this log seq has been received and applied.
    var covered: UInt64 = 0
    /// The upstream's epoch (a change restarts the media at the next keyframe).
    var epoch: UInt64 = 0
    /// The replica set, as the upstream last told it: where to re-attach.
    var members: [String] = []
    /// The data entries received, for the relays this one feeds in turn.
    var log: [ReplicationEntry] = []
    var lastHeard: ContinuousClock.Instant = .now
    var lastRenewed: ContinuousClock.Instant = .now
    /// A first feed arrived: the copy knows the session's state and may serve viewers.
    var ready = false
    var readyWaiters: [Int: CheckedContinuation<Bool, Never>] = [:]
    var nextWaiter = 0
    var idleSince: ContinuousClock.Instant?
    var endedSince: ContinuousClock.Instant?
    var reattachments = 0
    /// The copy was dropped: a viewer that found it a moment before is ended at once (it
    /// reconnects and gets a fresh copy) rather than wait on a copy nobody feeds.
    var detached = false
}

/// What a relay's periodic check decides (`SessionHost.relayTick`).
enum RelayVerdict: Equatable {
    case keep
    /// No live copy of the replica set it knows is reachable: look the session up again.
    case lost
    /// Idle past the linger, or ended: unsubscribe and forget the copy.
    case drop
}

extension SessionHost {
    /// Bytes of entries in one feed: a catch-up goes in pieces the link queue takes whole.
    static let feedBytes = 256 << 10
    /// Feeds sent per pull: a relay catching up asks for the next 2 MiB once it applied these.
    static let feedsPerPull = 8
    /// A relay renews its subscription this often; the upstream answers each with a feed.
    static let renewEvery: Duration = .seconds(1)
    /// An upstream silent this long (no feed, not even a heartbeat) is left for another copy.
    static let upstreamSilence: Duration = .seconds(3)
    /// A downstream relay not heard from for this long is forgotten.
    static let downstreamLease: Duration = .seconds(5)
    /// An ended relay copy stays this long (its viewers got the end), then goes.
    static let endedRelayLinger: Duration = .seconds(5)

    // MARK: Feeding relays (any copy)

    /// Where the committed entries end here: the commit point on a replica, the cursor on a relay.
    var feedCommit: UInt64 { isRelay ? relay.covered : replica.commitSeq }
    var feedEpoch: UInt64 { isRelay ? relay.epoch : replica.epoch }
    var feedMembers: [String] { isRelay ? relay.members : replica.members }
    /// The relays this copy feeds.
    var downstreamRelays: [String] { relay.downstream.keys.sorted() }

    /// A relay's subscribe: a new one (or `restart`, after it missed a feed or re-attached)
    /// starts after `after`; a renewal only extends its lease. Answered at once with a feed.
    func subscribed(_ node: String, after: UInt64, restart: Bool) {
        guard node != nodeID else { return }
        let now = ContinuousClock.now
        if restart || relay.downstream[node] == nil {
            relay.downstream[node] = RelayState.Downstream(cursor: after, renewed: now)
        } else {
            relay.downstream[node]?.renewed = now
        }
        pump(node, heartbeat: true, limit: Self.feedsPerPull)
    }

    func unsubscribed(_ node: String) {
        relay.downstream[node] = nil
    }

    /// Sends `node` the committed entries past its cursor, at most `limit` feeds; with
    /// `heartbeat`, one feed even when there is nothing new (a renewal's answer).
    func pump(_ node: String, heartbeat: Bool, limit: Int = 1) {
        guard var sub = relay.downstream[node] else { return }
        var sent = 0
        while sent < limit {
            let (entries, upTo) = committedEntries(after: sub.cursor, maxBytes: Self.feedBytes)
            guard upTo > sub.cursor || (heartbeat && sent == 0) else { break }
            let feed = RelayFeed(
                group: group,
                session: sessionID,
                epoch: feedEpoch,
                members: feedMembers,
                prev: sub.cursor,
                upTo: max(upTo, sub.cursor),
                commit: feedCommit,
                entries: entries
            )
            transport.sendRelay(.feed(feed), to: node)
            sub.cursor = feed.upTo
            sent += 1
        }
        relay.downstream[node] = sub
    }

    /// New commits: each relay fed here gets them (one feed per commit batch).
    func pumpDownstream() {
        for node in relay.downstream.keys { pump(node, heartbeat: false) }
    }

    /// Committed data entries after `cursor`, up to `maxBytes` of payload, and the log seq they
    /// complete (past skipped config entries: a relay's cursor then matches the commit point).
    func committedEntries(after cursor: UInt64, maxBytes: Int) -> ([ReplicationEntry], UInt64) {
        let commit = feedCommit
        guard cursor < commit else { return ([], cursor) }
        var out: [ReplicationEntry] = []
        var bytes = 0
        if isRelay {
            var low = 0
            var high = relay.log.count
            while low < high {
                let mid = (low + high) / 2
                if relay.log[mid].seq <= cursor { low = mid + 1 } else { high = mid }
            }
            while low < relay.log.count, bytes < maxBytes {
                let entry = relay.log[low]
                if case .data(let payload) = entry.kind { bytes += payload.count + 20 }
                out.append(entry)
                low += 1
            }
            return (out, low == relay.log.count ? commit : out.last?.seq ?? cursor)
        }
        var seq = cursor
        while seq < commit, bytes < maxBytes {
            seq += 1
            guard let entry = replica.entry(at: seq), case .data(let payload) = entry.kind else { continue }
            out.append(entry)
            bytes += payload.count + 20
        }
        return (out, seq)
    }

    /// Media for the relays fed here: an epoch change is announced first (a heartbeat feed on
    /// the same ordered link), so a relay never splices two primaries' streams.
    func forwardMedia(_ bytes: ByteBuffer) {
        guard !relay.downstream.isEmpty else { return }
        if relay.announcedEpoch != feedEpoch {
            relay.announcedEpoch = feedEpoch
            for node in relay.downstream.keys { pump(node, heartbeat: true) }
        }
        transport.relayMedia(bytes, group: group, session: sessionID, to: Array(relay.downstream.keys))
    }

    /// Forgets relays whose lease ran out.
    func expireDownstream(now: ContinuousClock.Instant) {
        relay.downstream = relay.downstream.filter { now - $0.value.renewed < Self.downstreamLease }
    }

    // MARK: Being a relay

    /// A feed from `node`: applied if it comes from this relay's upstream and follows what the
    /// relay has; a feed past the relay's cursor (one went missing) asks again from the cursor.
    func fed(_ feed: RelayFeed, from node: String) {
        guard isRelay, node == relay.upstream else { return }
        relay.lastHeard = .now
        if !feed.members.isEmpty { relay.members = feed.members }
        guard feed.prev <= relay.covered else {
            requestFeed(restart: true)
            return
        }
        if feed.epoch != relay.epoch {
            relay.epoch = feed.epoch
            media.restart(epoch: feed.epoch)
        }
        for entry in feed.entries where entry.seq > relay.covered {
            applyEntry(entry)
            relay.log.append(entry)
            relay.covered = entry.seq
        }
        relay.covered = max(relay.covered, feed.upTo)
        publish(upTo: relay.covered)
        markReady()
        if feed.upTo < feed.commit { requestFeed(restart: false) }
    }

    /// Media from `node`: fed to this relay's pipeline (and its own relays) when `node` is its
    /// upstream; a former upstream's late chunks are dropped.
    func relayFedMedia(_ bytes: ByteBuffer, from node: String) {
        guard isRelay, node == relay.upstream, relay.ready, session.state.phase != .ended else { return }
        if media.epoch != relay.epoch { media.restart(epoch: relay.epoch) }
        do { try feedMedia(bytes) } catch {
            logger.error("cannot take relayed media", metadata: ["error": "\(error)"])
        }
    }

    /// Asks the upstream for what follows this relay's cursor (`restart`) or renews the lease.
    func requestFeed(restart: Bool) {
        guard let upstream = relay.upstream else { return }
        relay.lastRenewed = .now
        transport.sendRelay(
            .subscribe(
                group: group,
                session: sessionID,
                node: nodeID,
                after: relay.covered,
                restart: restart,
                members: relay.members
            ),
            to: upstream
        )
    }

    /// Pulls from `node` from now on. The media restarts at the next keyframe of the new
    /// upstream's stream; the events go on from the cursor, with no gap and no repeat.
    func attach(to node: String, members: [String]? = nil) {
        if let members, !members.isEmpty { relay.members = members }
        if let old = relay.upstream, old != node {
            transport.sendRelay(.unsubscribe(group: group, session: sessionID, node: nodeID), to: old)
            relay.reattachments += 1
            metrics.relayReattachments.increment()
            logger.notice("relay re-attached", metadata: ["relay.from": "\(old)", "relay.to": "\(node)"])
        }
        relay.upstream = node
        relay.lastHeard = .now
        media.restart(epoch: relay.epoch)
        requestFeed(restart: true)
    }

    /// Leaves the upstream (the copy is being dropped).
    func detach() {
        if let old = relay.upstream {
            transport.sendRelay(.unsubscribe(group: group, session: sessionID, node: nodeID), to: old)
        }
        relay.upstream = nil
        relay.detached = true
        finishEventViewers()
        finishMediaViewers()
        resolveReady()
    }

    /// Waits until the first feed arrived, at most `timeout`: whether the copy can serve.
    func waitReady(for timeout: Duration) async -> Bool {
        if relay.ready { return true }
        let id = relay.nextWaiter
        relay.nextWaiter += 1
        Task {
            try? await Task.sleep(for: timeout)
            self.resolveReady(only: id)
        }
        return await withCheckedContinuation { relay.readyWaiters[id] = $0 }
    }

    private func markReady() {
        guard !relay.ready else { return }
        relay.ready = true
        resolveReady()
    }

    /// Answers the waiters (all, or just `only`) with whether the copy is ready.
    private func resolveReady(only: Int? = nil) {
        let ids = only.map { [$0] } ?? Array(relay.readyWaiters.keys)
        for id in ids { relay.readyWaiters.removeValue(forKey: id)?.resume(returning: relay.ready) }
    }

    /// About every 250 ms on a relay: renews the lease, re-attaches when the upstream went
    /// quiet or gossip no longer holds it alive, and says when the copy should go (idle for
    /// `linger` with no viewer and no relay fed from it, or ended).
    ///
    /// `choose` picks an upstream among the replica set it is given, avoiding some nodes
    /// (`RelayTree.upstream` over the current view).
    func relayTick(
        alive: Set<String>,
        linger: Duration,
        choose: ([String], Set<String>) -> String?
    ) -> RelayVerdict {
        let now = ContinuousClock.now
        expireDownstream(now: now)
        if session.state.phase == .ended {
            let since = relay.endedSince ?? now
            relay.endedSince = since
            return now - since >= Self.endedRelayLinger ? .drop : .keep
        }
        if viewerCount == 0 && relay.downstream.isEmpty {
            let since = relay.idleSince ?? now
            relay.idleSince = since
            if now - since >= linger { return .drop }
        } else {
            relay.idleSince = nil
        }
        let quiet = now - relay.lastHeard >= Self.upstreamSilence
        if let upstream = relay.upstream, !quiet, alive.contains(upstream) {
            if now - relay.lastRenewed >= Self.renewEvery { requestFeed(restart: false) }
            return .keep
        }
        var avoiding = Set(relay.downstream.keys)
        if let old = relay.upstream { avoiding.insert(old) }
        guard let next = choose(relay.members, avoiding) else { return .lost }
        attach(to: next)
        return .keep
    }
}
