import Determinism

/// The pending events of a simulation, earliest first; events at the same time come out in the
/// order they were pushed, so a run never depends on the heap's shape and a seed replays exactly.
///
/// The heap orders small non-generic keys (time, push order, payload slot) and the events wait in
/// slots of their own: tests build without optimization, where every unspecialized generic
/// operation consults type metadata, so sifting keys keeps the per-event cost to two generic
/// operations (store and take) however deep the heap is.
public struct EventQueue<Event> {
    private var heap = EventHeap()
    private var slots: [Event?] = []
    private var freeSlots: [Int] = []

    public init() {}

    public var isEmpty: Bool { heap.keys.isEmpty }

    public var count: Int { heap.keys.count }

    /// Time of the earliest event, if any.
    public var nextTime: VirtualTime? { heap.keys.first?.time }

    public mutating func push(_ event: Event, at time: VirtualTime) {
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            slots[slot] = event
        } else {
            slot = slots.count
            slots.append(event)
        }
        heap.push(time: time, slot: slot)
    }

    /// Removes and returns the earliest event (the first pushed among the earliest).
    public mutating func pop() -> (time: VirtualTime, event: Event)? {
        guard let key = heap.popMin() else { return nil }
        let event = slots[key.slot].take()!
        freeSlots.append(key.slot)
        return (key.time, event)
    }
}

/// A binary min-heap of event keys by (time, push order). Not generic, so its loops are plain code
/// in an unoptimized build.
private struct EventHeap {
    struct Key {
        var time: VirtualTime
        var order: UInt64
        var slot: Int
    }

    private(set) var keys: [Key] = []
    private var pushed: UInt64 = 0

    mutating func push(time: VirtualTime, slot: Int) {
        pushed += 1
        keys.append(Key(time: time, order: pushed, slot: slot))
        var child = keys.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.less(keys[child], keys[parent]) else { break }
            keys.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popMin() -> Key? {
        guard !keys.isEmpty else { return nil }
        keys.swapAt(0, keys.count - 1)
        let key = keys.removeLast()
        var parent = 0
        let count = keys.count
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < count && Self.less(keys[left], keys[smallest]) { smallest = left }
            if right < count && Self.less(keys[right], keys[smallest]) { smallest = right }
            if smallest == parent { break }
            keys.swapAt(parent, smallest)
            parent = smallest
        }
        return key
    }

    private static func less(_ a: Key, _ b: Key) -> Bool {
        a.time != b.time ? a.time < b.time : a.order < b.order
    }
}
