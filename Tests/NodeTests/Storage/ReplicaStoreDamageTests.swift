import Foundation
import Shard
import Testing

@testable import Node

/// A session copy whose log is damaged on disk: it opens with the valid prefix, the damaged
/// file moved aside, and says whether acknowledged entries may be gone.
@Suite("Replica store damage")
struct ReplicaStoreDamageTests {
    static func entry(_ seq: UInt64, epoch: UInt64 = 1) -> ReplicationEntry {
        ReplicationEntry(seq: seq, epoch: epoch, kind: .data(Array("{\"t\":\"entry \(seq)\"}".utf8)))
    }

    /// A copy holding entries 1...count, one frame each.
    static func store(count: UInt64) async throws -> String {
        let dir = ReplicaStoreTests.tempDir()
        let store = try ReplicaStore(directory: dir)
        for seq in 1...count { await ReplicaStoreTests.submit(store, [entry(seq)]) }
        return dir
    }

    static func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    static func quarantined(in dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("replication.log.corrupt-") }
    }

    @Test("a flipped byte mid-log: the valid prefix stays, the file is moved aside, entries may be lost")
    func flippedByte() async throws {
        let dir = try await Self.store(count: 10)
        let path = dir + "/replication.log"
        var bytes = try Self.bytes(path)
        let original = bytes
        let frame = bytes.count / 10
        bytes[frame * 4 + frame / 2] ^= 0x40  // inside the fifth record
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let store = try ReplicaStore(directory: dir)
        let loaded = try store.load()
        #expect(loaded.entries.map(\.seq) == [1, 2, 3, 4])
        #expect(loaded.lostEntries)
        #expect(loaded.damage?.contains("checksum") == true)
        let aside = try Self.quarantined(in: dir)
        #expect(aside.count == 1)
        #expect(try Self.bytes(dir + "/" + aside[0]) == bytes, "the damaged file is kept whole")
        #expect(try Self.bytes(path) == Array(original[..<(frame * 4)]))
        // The copy goes on from its prefix, and reads back whole.
        await ReplicaStoreTests.submit(store, [Self.entry(5, epoch: 3)])
        let again = try ReplicaStore(directory: dir).load()
        #expect(again.entries == [1, 2, 3, 4].map { Self.entry($0) } + [Self.entry(5, epoch: 3)])
        // A second restart before the copy caught up still abstains: the cut log reads whole,
        // the mark remembers the loss. Nothing more is moved aside.
        #expect(again.lostEntries)
        #expect(again.quarantinedAs == nil)
        #expect(try Self.quarantined(in: dir).count == 1)
        ReplicaStore.clearLostEntries(in: dir)
        let repaired = try ReplicaStore(directory: dir).load()
        #expect(repaired.damage == nil && !repaired.lostEntries)
    }

    @Test("a cut tail: kept up to the last whole record, not counted as a loss")
    func cutTail() async throws {
        let dir = try await Self.store(count: 6)
        let path = dir + "/replication.log"
        let bytes = try Self.bytes(path)
        try Data(bytes[..<(bytes.count - 3)]).write(to: URL(fileURLWithPath: path))
        let loaded = try ReplicaStore(directory: dir).load()
        #expect(loaded.entries.map(\.seq) == [1, 2, 3, 4, 5])
        #expect(!loaded.lostEntries)
        #expect(try Self.quarantined(in: dir).count == 1)
    }

    @Test("a gap in seq ends the log before it (a write was lost there)")
    func gap() async throws {
        let dir = ReplicaStoreTests.tempDir()
        let store = try ReplicaStore(directory: dir)
        await ReplicaStoreTests.submit(store, [Self.entry(1), Self.entry(2)])
        await ReplicaStoreTests.submit(store, [Self.entry(4), Self.entry(5)])
        let loaded = try ReplicaStore(directory: dir).load()
        #expect(loaded.entries.map(\.seq) == [1, 2])
        #expect(loaded.lostEntries)
        #expect(loaded.damage?.contains("entry 4 where 3 was expected") == true)
    }

    @Test("a log in the line format of before checksums loads, and new frames follow it")
    func legacyLog() async throws {
        let dir = ReplicaStoreTests.tempDir()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let config = ReplicationEntry(seq: 1, epoch: 1, kind: .config(["n1", "n2"]))
        let binary = ReplicationEntry(seq: 3, epoch: 1, kind: .data([0x01, 0x0A, 0x02]))
        var text: [UInt8] = []
        for entry in [config, Self.entry(2), binary, Self.entry(4)] {
            text += ReplicaStore.legacyRecord(entry) + [0x0A]
        }
        text += Array("T 3\n".utf8)
        try Data(text).write(to: URL(fileURLWithPath: dir + "/replication.log"))
        let store = try ReplicaStore(directory: dir)
        #expect(try store.load().entries == [config, Self.entry(2), binary])
        #expect(try store.load().damage == nil)
        await ReplicaStoreTests.submit(store, [Self.entry(4, epoch: 2)])
        #expect(
            try ReplicaStore(directory: dir).load().entries == [config, Self.entry(2), binary, Self.entry(4, epoch: 2)]
        )
    }

    @Test("an unreadable vote: the copy loads, abstaining")
    func unreadableVote() async throws {
        let dir = try await Self.store(count: 2)
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: dir + "/vote.json"))
        let loaded = try ReplicaStore(directory: dir).load()
        #expect(loaded.entries.count == 2)
        #expect(loaded.lostEntries)
    }

    @Test("the read-only load (replays) returns the valid prefix and changes nothing")
    func readOnlyLoad() async throws {
        let dir = try await Self.store(count: 4)
        let path = dir + "/replication.log"
        var bytes = try Self.bytes(path)
        bytes[bytes.count - 2] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(try ReplicaStore.load(directory: dir).entries.map(\.seq) == [1, 2, 3])
        #expect(try Self.bytes(path) == bytes)
        #expect(try Self.quarantined(in: dir).isEmpty)
    }

    @Test("a full disk under a replica store: the write fails, nothing of it stays, recovery resumes")
    func fullDiskUnderTheStore() async throws {
        let dir = ReplicaStoreTests.tempDir()
        let ops = FaultyLogFileOps()
        let store = try ReplicaStore(directory: dir, ops: ops)
        await ReplicaStoreTests.submit(store, [Self.entry(1), Self.entry(2)])
        ops.fault = .shortWrite(bytes: 11)
        let failure: StorageError? = await withCheckedContinuation { done in
            store.submit([Self.entry(3)], truncateAfter: nil) { done.resume(returning: $0) }
        }
        #expect(failure?.isNoSpace == true)
        ops.fault = .none
        try await store.recover()
        let rewrite = SessionReplica.Rewrite(entries: [Self.entry(3)], truncateAfter: 2, lastSeq: 3)
        let done: StorageError? = await withCheckedContinuation { done in
            store.rewrite(rewrite) { done.resume(returning: $0) }
        }
        #expect(done == nil)
        let loaded = try ReplicaStore(directory: dir).load()
        #expect(loaded.entries.map(\.seq) == [1, 2, 3])
        #expect(loaded.damage == nil)
    }
}
