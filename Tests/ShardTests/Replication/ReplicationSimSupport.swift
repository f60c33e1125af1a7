import Foundation
import Shard

/// A binary min-heap of timed events; ties break by insertion order so runs are deterministic.
///
/// Not generic on purpose: tests build without optimization, where every call into unspecialized
/// generic code looks up type metadata, and this heap sees every event of a thousand runs.
struct ReplicationEventQueue {
    typealias Event = ReplicationSimulation.Event

    private struct Item {
        var time: ReplicationTime
        var order: UInt64
        var event: Event
    }

    private var heap: [Item] = []
    private var nextOrder: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }

    /// Time of the earliest event, if any.
    var nextTime: ReplicationTime? { heap.first?.time }

    mutating func push(_ event: Event, at time: ReplicationTime) {
        nextOrder += 1
        heap.append(Item(time: time, order: nextOrder, event: event))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.less(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest event (call only when `nextTime` is not nil).
    mutating func pop() -> Event {
        heap.swapAt(0, heap.count - 1)
        let item = heap.removeLast()
        var parent = 0
        let count = heap.count
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < count && Self.less(heap[left], heap[smallest]) { smallest = left }
            if right < count && Self.less(heap[right], heap[smallest]) { smallest = right }
            if smallest == parent { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return item.event
    }

    private static func less(_ a: Item, _ b: Item) -> Bool {
        a.time != b.time ? a.time < b.time : a.order < b.order
    }
}

/// A running hash of everything observable in a run, so two runs of one seed compare cheaply.
struct ReplicationTraceHash: Equatable {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325
    private(set) var events = 0

    /// A word at a time (multiply, then fold the high bits down): the simulation records every
    /// event, and a byte loop is slow in an unoptimized build.
    mutating func mix(_ word: UInt64) {
        value = (value ^ word) &* 0x100_0000_01B3
        value ^= value >> 29
    }

    /// Fixed arities rather than a variadic, which would allocate an array on every event.
    mutating func record(_ a: UInt64, _ b: UInt64 = 0, _ c: UInt64 = 0, _ d: UInt64 = 0, _ e: UInt64 = 0) {
        events += 1
        mix(a)
        mix(b)
        mix(c)
        mix(d)
        mix(e)
    }
}

/// Seeds for the replication simulation. `REPL_SEED=n` replays just that seed.
enum ReplicationSeeds {
    static var replay: UInt64? {
        ProcessInfo.processInfo.environment["REPL_SEED"].flatMap { UInt64($0) }
    }

    static var verbose: Bool { ProcessInfo.processInfo.environment["REPL_TRACE"] != nil }

    static func list(count: Int, offset: UInt64 = 0) -> [UInt64] {
        if let replay { return [replay] }
        return (0..<UInt64(count)).map { $0 + offset }
    }
}

/// The simulated shell's "session state": a snapshot is simply every entry up to its seq, encoded
/// as words, so the checker can rebuild a node's whole log from snapshot + tail.
enum SimSnapshotCodec {
    static func encode(_ entries: ArraySlice<ReplicationEntry>) -> [UInt8] {
        var words: [UInt64] = []
        for entry in entries {
            words.append(entry.seq)
            words.append(entry.epoch)
            switch entry.kind {
            case .data(let bytes):
                words.append(0)
                words.append(writeID(bytes))
            case .config(let members):
                words.append(1)
                words.append(UInt64(members.count))
                for member in members { words.append(UInt64(member.dropFirst())!) }
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(words.count * 8)
        for word in words { bytes.append(contentsOf: payload(word)) }
        return bytes
    }

    static func decode(_ bytes: [UInt8]) -> [ReplicationEntry] {
        var words: [UInt64] = []
        var index = 0
        while index + 8 <= bytes.count {
            words.append(writeID(Array(bytes[index..<index + 8])))
            index += 8
        }
        var entries: [ReplicationEntry] = []
        var i = 0
        while i < words.count {
            let seq = words[i]
            let epoch = words[i + 1]
            if words[i + 2] == 0 {
                entries.append(ReplicationEntry(seq: seq, epoch: epoch, kind: .data(payload(words[i + 3]))))
                i += 4
            } else {
                let count = Int(words[i + 3])
                let members = (0..<count).map { "n\(words[i + 4 + $0])" }
                entries.append(ReplicationEntry(seq: seq, epoch: epoch, kind: .config(members)))
                i += 4 + count
            }
        }
        return entries
    }

    static func payload(_ id: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: id >> (8 * $0)) }
    }

    /// A plain loop: it runs for every entry the checker hashes, in an unoptimized build.
    static func writeID(_ bytes: [UInt8]) -> UInt64 {
        var id: UInt64 = 0
        var i = 0
        while i < min(bytes.count, 8) {
            id |= UInt64(bytes[i]) << (8 * i)
            i += 1
        }
        return id
    }
}

extension ReplicationEntry {
    /// A word identifying the entry's content, for prefix hashes and traces.
    var contentWord: UInt64 {
        switch kind {
        case .data(let bytes): return SimSnapshotCodec.writeID(bytes)
        case .config(let members):
            var hash: UInt64 = 0x1234_5678
            for member in members {
                for byte in member.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
            }
            return hash
        }
    }
}

extension ReplicationMessage.Kind {
    var traceTag: UInt64 {
        switch self {
        case .append(let prevSeq, _, let entries, _): 1 &+ prevSeq << 8 &+ UInt64(entries.count) << 32
        case .appendAck(let success, let matchSeq, _): 2 &+ (success ? 4 : 0) &+ matchSeq << 8
        case .requestVote(let lastSeq, _, _): 3 &+ lastSeq << 8
        case .vote(let granted): granted ? 5 : 6
        case .installSnapshot(let snapshot): 7 &+ snapshot.seq << 8
        case .snapshotAck(let matchSeq): 8 &+ matchSeq << 8
        case .timeoutNow: 9
        }
    }
}
