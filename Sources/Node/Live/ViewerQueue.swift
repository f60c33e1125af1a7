import NIOCore
import Synchronization

/// A bounded queue between one producer that must never block (the ingest, the event log) and
/// one viewer connection that drains at its own pace.
///
/// The producer pushes shared `ByteBuffer`s (encoded once for every viewer). When a viewer
/// falls more than `limitBytes` behind, the queue applies its overflow policy instead of
/// growing: media viewers skip to the next keyframe (they lose whole GOPs, as SRS does, and
/// never a partial one), event viewers are disconnected (events never skip; the client
/// resumes with `Last-Event-ID`).
public final class ViewerQueue: Sendable {
    public enum OverflowPolicy: Sendable {
        /// Drop queued media and everything until the next keyframe.
        case skipToKeyframe
        /// Close the viewer.
        case disconnect
    }

    /// One queued item: bytes, and whether they begin a keyframe (media only).
    public struct Item: Sendable {
        public var bytes: ByteBuffer
        public var keyframe: Bool
        public init(_ bytes: ByteBuffer, keyframe: Bool = false) {
            self.bytes = bytes
            self.keyframe = keyframe
        }
    }

    private struct State {
        var items: [Item] = []
        var bytes = 0
        var waiting: CheckedContinuation<[Item]?, Never>?
        var closed = false
        var skippingToKeyframe = false
        var gopsSkipped = 0
    }

    private let state = Mutex(State())
    public let limitBytes: Int
    public let policy: OverflowPolicy

    public init(limitBytes: Int, policy: OverflowPolicy) {
        self.limitBytes = limitBytes
        self.policy = policy
    }

    /// Queues `item` without ever waiting. Returns false once the queue is closed.
    @discardableResult
    public func push(_ item: Item) -> Bool {
        let resume: (CheckedContinuation<[Item]?, Never>, [Item]?)? = state.withLock { s in
            if s.closed { return nil }
            if s.skippingToKeyframe {
                guard item.keyframe else { return nil }
                s.skippingToKeyframe = false
            }
            if s.bytes + item.bytes.readableBytes > limitBytes && !s.items.isEmpty {
                switch policy {
                case .disconnect:
                    s.closed = true
                    s.items.removeAll()
                    s.bytes = 0
                    if let w = s.waiting {
                        s.waiting = nil
                        return (w, nil)
                    }
                    return nil
                case .skipToKeyframe:
                    s.items.removeAll()
                    s.bytes = 0
                    s.gopsSkipped += 1
                    guard item.keyframe else {
                        s.skippingToKeyframe = true
                        return nil
                    }
                }
            }
            s.items.append(item)
            s.bytes += item.bytes.readableBytes
            if let w = s.waiting {
                s.waiting = nil
                let batch = s.items
                s.items.removeAll()
                s.bytes = 0
                return (w, batch)
            }
            return nil
        }
        if let (continuation, batch) = resume { continuation.resume(returning: batch) }
        return !isClosed
    }

    /// Waits for queued items and takes all of them (one batched write for the viewer);
    /// nil once the queue is closed and drained.
    public func next() async -> [Item]? {
        await withCheckedContinuation { (continuation: CheckedContinuation<[Item]?, Never>) in
            let immediate: [Item]?? = state.withLock { s in
                if !s.items.isEmpty {
                    let batch = s.items
                    s.items.removeAll()
                    s.bytes = 0
                    return .some(batch)
                }
                if s.closed { return .some(nil) }
                s.waiting = continuation
                return .none
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }

    /// Ends the queue: the viewer drains what is queued, then `next` returns nil.
    public func close() {
        let waiting = state.withLock { s -> CheckedContinuation<[Item]?, Never>? in
            s.closed = true
            defer { s.waiting = nil }
            return s.waiting
        }
        waiting?.resume(returning: nil)
    }

    public var isClosed: Bool { state.withLock { $0.closed } }
    /// GOPs dropped for this viewer because it fell behind.
    public var gopsSkipped: Int { state.withLock { $0.gopsSkipped } }
}
