import Foundation
import Shard
import Testing

@testable import Node

@Suite("Replica store")
struct ReplicaStoreTests {
    static func tempDir() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("replica-\(UUID())").path
    }

    static func data(_ seq: UInt64, _ epoch: UInt64, _ text: String) -> ReplicationEntry {
        ReplicationEntry(seq: seq, epoch: epoch, kind: .data(Array("{\"t\":\"\(text)\"}".utf8)))
    }

    static func submit(_ store: ReplicaStore, _ entries: [ReplicationEntry], truncateAfter: UInt64? = nil) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            store.submit(entries, truncateAfter: truncateAfter) { failure in
                #expect(failure == nil)
                done.resume()
            }
        }
    }

    @Test("a removed copy keeps its log, is marked, and is a replica again once cleared")
    func removedMarker() async throws {
        let dir = Self.tempDir()
        let store = try ReplicaStore(directory: dir)
        await Self.submit(store, [Self.data(1, 1, "a"), Self.data(2, 1, "b")])
        #expect(!ReplicaStore.isRemoved(in: dir))
        ReplicaStore.markRemoved(in: dir, epoch: 4)
        #expect(ReplicaStore.isRemoved(in: dir))
        #expect(ReplicaStore.exists(in: dir))
        #expect(try ReplicaStore(directory: dir).load().entries.map(\.seq) == [1, 2])
        ReplicaStore.clearRemoved(in: dir)
        #expect(!ReplicaStore.isRemoved(in: dir))
    }

    @Test("binary payloads, newline bytes and all, load back byte for byte")
    func binaryPayloads() async throws {
        let dir = Self.tempDir()
        let store = try ReplicaStore(directory: dir)
        let payloads: [[UInt8]] = [
            [0x01, 0x0A, 0x02, 0x0A], [0x01, 0x20, 0x0D, 0x00], Array(0...255), [0x0A], Array("{\"t\":\"x\"}".utf8),
        ]
        let entries = payloads.enumerated().map { ReplicationEntry(seq: UInt64($0 + 1), epoch: 2, kind: .data($1)) }
        await Self.submit(store, entries)
        #expect(try ReplicaStore(directory: dir).load().entries == entries)
    }

    @Test("entries, config entries and truncations replay into the log the core had")
    func replay() async throws {
        let dir = Self.tempDir()
        let store = try ReplicaStore(directory: dir)
        let config = ReplicationEntry(seq: 1, epoch: 1, kind: .config(["n1", "n2", "n3"]))
        await Self.submit(store, [config, Self.data(2, 1, "a"), Self.data(3, 1, "b"), Self.data(4, 1, "c")])
        // A new primary of epoch 2 overwrote seqs 3 and 4.
        await Self.submit(store, [Self.data(3, 2, "B")], truncateAfter: 2)
        try store.writeVote(epoch: 2, votedFor: "n2")

        let loaded = try ReplicaStore(directory: dir).load()
        let (state, entries) = (loaded.state, loaded.entries)
        #expect(entries == [config, Self.data(2, 1, "a"), Self.data(3, 2, "B")])
        #expect(state.epoch == 2)
        #expect(state.votedFor == "n2")
    }

    @Test("a torn last record is dropped; a garbled one ends the log there")
    func tornAndCorrupt() async throws {
        let dir = Self.tempDir()
        let store = try ReplicaStore(directory: dir)
        await Self.submit(store, [Self.data(1, 1, "a")])
        let handle = try #require(FileHandle(forWritingAtPath: dir + "/replication.log"))
        handle.seekToEndOfFile()
        handle.write(Data([0xFE, 40, 0, 0, 0, 1, 2]))  // a frame cut short: a crash mid-write
        try handle.close()
        let reopened = try ReplicaStore(directory: dir).load()
        #expect(reopened.entries == [Self.data(1, 1, "a")])
        #expect(reopened.lostEntries == false, "a torn tail was never acknowledged")

        let bad = Self.tempDir()
        try FileManager.default.createDirectory(atPath: bad, withIntermediateDirectories: true)
        try Data("E 1 1 {}\nX what\nE 2 1 {}\n".utf8).write(to: URL(fileURLWithPath: bad + "/replication.log"))
        let garbled = try ReplicaStore(directory: bad).load()
        #expect(garbled.entries.map(\.seq) == [1])
        #expect(garbled.lostEntries)
    }

    @Test("the epoch never goes below the last entry's epoch, even without a vote file")
    func epochFromLog() async throws {
        let dir = Self.tempDir()
        let store = try ReplicaStore(directory: dir)
        await Self.submit(store, [Self.data(1, 3, "a")])
        let state = try store.load().state
        #expect(state.epoch == 3)
        #expect(state.votedFor == nil)
    }
}
