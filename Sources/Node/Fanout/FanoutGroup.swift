import NIOCore
import Synchronization

/// The viewers of one session, grouped by event loop, so that one buffer costs a few tasks per
/// loop rather than one per viewer.
///
/// A loop writes its viewers in slices of `sliceSize`, one task per slice, in a fixed order
/// (rounds). Each slice gets everything published since its last visit, as one buffer per viewer
/// (events) or chunk by chunk (media), then one flush per viewer. A write and a flush cost about
/// 10 µs a viewer here (most of it the kernel's loopback TCP), so 2,500 viewers on a loop take
/// about 30 ms; a slice of 256 about 2.5 ms, and the loop reads its sockets between slices (a
/// POST does not wait for a whole round).
///
/// A slice is visited again no sooner than `flushShare` times the cost of the last round (at most
/// `maxWindow`) after its last visit: one session's writes take at most about a `flushShare`th of
/// the loop however many viewers it has and however busy the machine is, and a viewer waits at
/// most about that period for an event, not the period plus a whole round as when a loop wrote
/// all its viewers at once. A quiet session's event goes out at once to every slice; media
/// fan-outs also wait at least `minPeriod` (`--media-batch`) so that chunks travel in batches.
///
/// Each buffer carries the event `seq` it holds (nil for stats and pings), and each viewer the
/// last seq of its start, so a viewer subscribed while a batch was pending never sees an event
/// twice; every `add` and `broadcast` of a session comes from its actor, in order.
final class FanoutGroup: Sendable {
    private struct Pending: Sendable {
        var bytes: ViewerBytes
        var seq: UInt64?
        var keyframe = false
    }

    /// A viewer in visit order, with the number of the first log item it has not had.
    private struct Member: Sendable {
        let viewer: DirectViewer
        var cursor: Int
    }

    private struct LoopViewers: Sendable {
        var loop: any EventLoop
        var viewers: [UInt64: DirectViewer] = [:]
        /// Visit order; a removed viewer's entry stays until the round wraps.
        var members: [Member] = []
        /// What some member has not had yet; `log[0]` is item number `logBase`.
        var log: [Pending] = []
        var logBase = 0
        var logEnd: Int { logBase + log.count }
        /// Per slice of `members`: the least cursor of its members, and its last visit (nil:
        /// never, so due at once).
        var sliceCursors: [Int] = []
        var sliceVisits: [NIODeadline?] = []
        /// The slice visited next.
        var next = 0
        /// A visit is scheduled (always, while some member is behind).
        var scheduled = false
        var roundCost: TimeAmount = .zero
        var lastRoundCost: TimeAmount = .zero

        var hasWork: Bool { sliceCursors.contains { $0 < logEnd } }
    }

    /// What a visit found to do.
    private enum Visit {
        case nothing
        case wait(until: NIODeadline)
        case write([Member], log: [Pending], base: Int)
    }

    private let loops = Mutex<[ObjectIdentifier: LoopViewers]>([:])
    private let minPeriod: TimeAmount
    private let maxWindow: TimeAmount
    private let flushShare: Int64
    private let sliceSize: Int

    /// Between two slices the loop looks at its sockets: a visit due now is scheduled this far
    /// ahead, since a task due at once would run before the loop's next poll.
    private static let yieldGap = TimeAmount.microseconds(20)

    /// - Parameters:
    ///   - minPeriod: the least time between two visits of a slice (default none: events go out
    ///     at once when the loop is free; media uses `--media-batch`).
    ///   - maxWindow: the longest a slice waits between visits (default 60 ms: with the round
    ///     itself and the client's read, a delivery stays under 100 ms).
    ///   - flushShare: a slice's period is this many times the last round's cost (default 3).
    ///   - sliceSize: viewers written per task (default 256).
    init(
        minPeriod: TimeAmount = .zero,
        maxWindow: TimeAmount = .milliseconds(60),
        flushShare: Int64 = 3,
        sliceSize: Int = 256
    ) {
        self.minPeriod = minPeriod
        self.maxWindow = max(maxWindow, minPeriod)
        self.flushShare = flushShare
        self.sliceSize = max(1, sliceSize)
    }

    func add(_ viewer: DirectViewer) {
        let key = ObjectIdentifier(viewer.channel.eventLoop)
        let sliceSize = self.sliceSize
        let schedule = loops.withLock { all -> (any EventLoop)? in
            all[key, default: LoopViewers(loop: viewer.channel.eventLoop)].viewers[viewer.id] = viewer
            // Mutated in place through `all[key]!`: the entry's arrays are not copied.
            let base = all[key]!.logBase
            all[key]!.members.append(Member(viewer: viewer, cursor: base))
            let slice = (all[key]!.members.count - 1) / sliceSize
            if slice == all[key]!.sliceCursors.count {
                all[key]!.sliceCursors.append(base)
                all[key]!.sliceVisits.append(nil)
            } else {
                all[key]!.sliceCursors[slice] = min(all[key]!.sliceCursors[slice], base)
            }
            return Self.claimVisit(&all[key]!)
        }
        if let loop = schedule { loop.execute { self.visit(key, on: loop) } }
    }

    @discardableResult
    func remove(_ id: UInt64) -> DirectViewer? {
        loops.withLock { all in
            for key in all.keys {
                if let viewer = all[key]?.viewers.removeValue(forKey: id) { return viewer }
            }
            return nil
        }
    }

    var count: Int { loops.withLock { $0.values.reduce(0) { $0 + $1.viewers.count } } }

    /// Queues `buffer` for every viewer; `seq` is the event (or media chunk) it carries, if any;
    /// `keyframe` marks a media chunk a skipping viewer may resume at.
    func broadcast(_ buffer: ByteBuffer, seq: UInt64? = nil, keyframe: Bool = false) {
        let item = Pending(bytes: ViewerBytes(buffer), seq: seq, keyframe: keyframe)
        let toVisit = loops.withLock { all -> [(ObjectIdentifier, any EventLoop)] in
            var out: [(ObjectIdentifier, any EventLoop)] = []
            for key in all.keys where !all[key]!.viewers.isEmpty {
                all[key]!.log.append(item)
                if let loop = Self.claimVisit(&all[key]!) { out.append((key, loop)) }
            }
            return out
        }
        for (key, loop) in toVisit { loop.execute { self.visit(key, on: loop) } }
    }

    /// Marks a visit scheduled when there is work and none is; returns the loop to run it on.
    private static func claimVisit(_ entry: inout LoopViewers) -> (any EventLoop)? {
        guard !entry.scheduled, entry.hasWork else { return nil }
        entry.scheduled = true
        return entry.loop
    }

    /// Writes the next slice that is behind and due (runs on the loop), then schedules the next
    /// visit while any slice is behind.
    /// Times are the loop's (`EventLoop.now`: a test's embedded loop has its own clock).
    private func visit(_ key: ObjectIdentifier, on loop: any EventLoop) {
        let started = loop.now
        let found = loops.withLock { all -> Visit in
            guard all[key] != nil else { return .nothing }
            return pick(&all[key]!, now: started)
        }
        switch found {
        case .nothing:
            return
        case .wait(let due):
            loop.scheduleTask(deadline: due) { self.visit(key, on: loop) }
            return
        case .write(let members, let log, let base):
            write(members, log: log, base: base)
        }
        let cost = loop.now - started
        let more = loops.withLock { all -> Bool in
            guard all[key] != nil else { return false }
            all[key]!.roundCost = all[key]!.roundCost + cost
            Self.trim(&all[key]!)
            guard all[key]!.hasWork else {
                all[key]!.scheduled = false
                return false
            }
            return true
        }
        if more { loop.scheduleTask(in: Self.yieldGap) { self.visit(key, on: loop) } }
    }

    /// Under the lock: the next slice behind (in round order) if it is due, marked written.
    private func pick(_ entry: inout LoopViewers, now: NIODeadline) -> Visit {
        guard entry.hasWork else {
            entry.scheduled = false
            return .nothing
        }
        let period = TimeAmount.nanoseconds(
            min(maxWindow.nanoseconds, max(minPeriod.nanoseconds, entry.lastRoundCost.nanoseconds * flushShare))
        )
        // Ends within a round and a half: `hasWork` (checked again after a wrap) says some
        // slice is behind.
        while true {
            if entry.next >= entry.sliceCursors.count {
                wrap(&entry)
                guard entry.hasWork else {
                    entry.scheduled = false
                    return .nothing
                }
            }
            let slice = entry.next
            guard entry.sliceCursors[slice] < entry.logEnd else {
                entry.next += 1
                continue
            }
            let due = entry.sliceVisits[slice].map { $0 + period } ?? now
            guard due <= now else { return .wait(until: due) }
            let range = slice * sliceSize..<min((slice + 1) * sliceSize, entry.members.count)
            let members = entry.members[range].filter { entry.viewers[$0.viewer.id] != nil }
            for index in range { entry.members[index].cursor = entry.logEnd }
            entry.sliceCursors[slice] = entry.logEnd
            entry.sliceVisits[slice] = now
            entry.next = slice + 1
            return .write(members, log: entry.log, base: entry.logBase)
        }
    }

    /// The end of a round: drops removed viewers, recomputes the slices, keeps the round's cost.
    private func wrap(_ entry: inout LoopViewers) {
        let alive = entry.viewers
        entry.members.removeAll { alive[$0.viewer.id] == nil }
        let slices = (entry.members.count + sliceSize - 1) / sliceSize
        entry.sliceCursors = (0..<slices).map { slice in
            entry.members[slice * sliceSize..<min((slice + 1) * sliceSize, entry.members.count)]
                .map(\.cursor).min() ?? entry.logEnd
        }
        entry.sliceVisits = (0..<slices).map { $0 < entry.sliceVisits.count ? entry.sliceVisits[$0] : nil }
        entry.next = 0
        entry.lastRoundCost = entry.roundCost
        entry.roundCost = .zero
        Self.trim(&entry)
    }

    /// Drops the log items every member has had.
    private static func trim(_ entry: inout LoopViewers) {
        let least = entry.sliceCursors.min() ?? entry.logEnd
        guard least > entry.logBase else { return }
        entry.log.removeFirst(least - entry.logBase)
        entry.logBase = least
    }

    /// Writes to each member what it has not had of `log`, then flushes them.
    private func write(_ members: [Member], log: [Pending], base: Int) {
        var merged: [Int: ViewerBytes] = [:]
        for member in members {
            // A cursor is never below the log's base (trimmed to the least); clamped all the same.
            let items = log[min(log.count, max(0, member.cursor - base))...]
            deliver(items, to: member.viewer, merged: &merged, key: member.cursor)
        }
        for member in members { member.viewer.flush() }
    }

    /// Delivers `items` to `viewer` as one buffer, shared by the viewers with the same `key`
    /// through `merged` (one write through the pipeline instead of one per chunk: about an
    /// eighth less of the node's CPU at 200 media viewers); chunk by chunk to a media viewer
    /// that skips to a keyframe, which must see where each chunk starts.
    private func deliver(
        _ items: ArraySlice<Pending>,
        to viewer: DirectViewer,
        merged: inout [Int: ViewerBytes],
        key: Int
    ) {
        guard let first = items.first else { return }
        let firstSeq = items.lazy.compactMap(\.seq).first
        guard !viewer.isSkipping, firstSeq.map({ $0 > viewer.startAfterSeq }) ?? true else {
            // A skipping media viewer, or a viewer subscribed while this batch was pending: item
            // by item, without what its start already held.
            for item in items where item.seq.map({ $0 > viewer.startAfterSeq }) ?? true {
                viewer.deliver(item.bytes, keyframe: item.keyframe)
            }
            return
        }
        // A batch is a keyframe when it starts with one: a viewer that falls behind on it
        // resumes at a later batch's first keyframe, chunk by chunk.
        guard items.count > 1 else {
            viewer.deliver(first.bytes, keyframe: first.keyframe)
            return
        }
        if merged[key] == nil {
            var buffer = ByteBuffer()
            buffer.reserveCapacity(items.reduce(0) { $0 + $1.bytes.plain.readableBytes })
            for item in items { buffer.writeImmutableBuffer(item.bytes.plain) }
            merged[key] = ViewerBytes(buffer)
        }
        viewer.deliver(merged[key]!, keyframe: first.keyframe)
    }

    /// Finishes the viewers matching `filter` (all by default) once what is already published
    /// has been written to them.
    func finish(where filter: @escaping @Sendable (DirectViewer) -> Bool = { _ in true }) -> [UInt64] {
        let chosen = loops.withLock { all -> [(ObjectIdentifier, any EventLoop, [UInt64])] in
            all.compactMap { key, entry in
                let ids = entry.viewers.values.filter(filter).map(\.id)
                return ids.isEmpty ? nil : (key, entry.loop, ids)
            }
        }
        for (key, loop, ids) in chosen {
            loop.execute { self.drain(ids, on: key) }
        }
        return chosen.flatMap(\.2)
    }

    /// Writes to the viewers `ids` of one loop what they have not had, removes and finishes them.
    private func drain(_ ids: [UInt64], on key: ObjectIdentifier) {
        let wanted = Set(ids)
        let (members, log, base) = loops.withLock { all -> ([Member], [Pending], Int) in
            guard let entry = all[key] else { return ([], [], 0) }
            let members = entry.members.filter { wanted.contains($0.viewer.id) && entry.viewers[$0.viewer.id] != nil }
            for id in ids { all[key]?.viewers.removeValue(forKey: id) }
            return (members, entry.log, entry.logBase)
        }
        write(members, log: log, base: base)
        for member in members { member.viewer.finish() }
    }
}
