import Foundation
import Testing

@testable import Node

/// `AppendLog` under the storage fault injector: a failed write or fsync poisons the log, the
/// file is cut back to its last durable batch, nothing after the failure is ever reported
/// durable, and `recover` makes it writable again.
@Suite("Append log faults")
struct AppendLogFaultTests {
    static func tempPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("faulty-\(UUID()).log").path
    }

    static func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? -1
    }

    static func strings(_ path: String) throws -> [String] {
        try AppendLog.readAll(path: path).map { String(decoding: $0, as: UTF8.self) }
    }

    static func record(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("a short write (disk full mid-record) is cut off; the log fails until it recovers")
    func shortWrite() async throws {
        let path = Self.tempPath()
        let ops = FaultyLogFileOps()
        let log = try AppendLog(path: path, ops: ops)
        try await log.append([Self.record("one"), Self.record("two")])
        let durable = Self.size(path)
        ops.fault = .shortWrite(bytes: 5)
        await #expect(throws: StorageError.noSpace(path: path)) { try await log.append([Self.record("three")]) }
        #expect(Self.size(path) == durable, "the half record stayed in the file")
        #expect(log.failure == .noSpace(path: path))
        // The disk has room again, but the log stays stopped until recovered: a later success
        // must never follow (and so seem to cover) the lost record.
        ops.fault = .none
        await #expect(throws: StorageError.self) { try await log.append([Self.record("four")]) }
        try await log.recover()
        #expect(log.failure == nil)
        try await log.append([Self.record("five")])
        #expect(try Self.strings(path) == ["one", "two", "five"])
        #expect(try AppendLog.scan(path: path).damage == nil)
    }

    @Test("an fsync error fails the batch and cuts off what it wrote")
    func fsyncError() async throws {
        let path = Self.tempPath()
        let ops = FaultyLogFileOps()
        let log = try AppendLog(path: path, ops: ops)
        try await log.append([Self.record("one")])
        let durable = Self.size(path)
        ops.fault = .fsyncFails(EIO)
        await #expect(throws: StorageError.self) { try await log.append([Self.record("two")]) }
        #expect(Self.size(path) == durable)
        #expect(log.failure?.isNoSpace == false, "an I/O error, answered 503, not 507")
        ops.fault = .none
        try await log.recover()
        try await log.append([Self.record("three")])
        #expect(try Self.strings(path) == ["one", "three"])
    }

    @Test("every write queued with or after the failed one fails; none is reported durable")
    func pendingWritesFail() async throws {
        let path = Self.tempPath()
        let ops = FaultyLogFileOps()
        let log = try AppendLog(path: path, ops: ops)
        try await log.append([Self.record("zero")])
        ops.fault = .diskFull
        let results = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<20 {
                group.addTask {
                    do {
                        try await log.append([Self.record("w\(i)")])
                        return true
                    } catch {
                        return false
                    }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.allSatisfy { !$0 })
        #expect(try Self.strings(path) == ["zero"])
    }

    @Test("a cut that fails at first is made by recover, which fails while it cannot")
    func truncateFailsThenRecovers() async throws {
        let path = Self.tempPath()
        let ops = FaultyLogFileOps()
        let log = try AppendLog(path: path, ops: ops)
        try await log.append([Self.record("one")])
        let durable = Self.size(path)
        ops.truncateFails = true
        ops.fault = .shortWrite(bytes: 7)
        await #expect(throws: StorageError.self) { try await log.append([Self.record("a long second record")]) }
        #expect(Self.size(path) == durable + 7, "the cut failed: the half record is still there")
        // Readers already stop at it (a torn frame), and recovery must cut it first.
        #expect(try Self.strings(path) == ["one"])
        ops.fault = .none
        await #expect(throws: StorageError.self) { try await log.recover() }
        ops.truncateFails = false
        try await log.recover()
        #expect(Self.size(path) == durable)
        try await log.append([Self.record("two")])
        #expect(try Self.strings(path) == ["one", "two"])
    }

    @Test("records are framed with length and CRC-32C; a flipped bit is caught")
    func checksummedFrames() async throws {
        let path = Self.tempPath()
        let log = try AppendLog(path: path)
        try await log.append([Self.record("alpha"), [0x0A, 0x00, 0xFE, 0x0A], Self.record("gamma")])
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes.first == 0xFE)
        #expect(
            try AppendLog.readAll(path: path) == [
                Self.record("alpha"), [0x0A, 0x00, 0xFE, 0x0A], Self.record("gamma"),
            ]
        )
        // Flip one bit in the second record's body.
        let second = LogRecordFormat.headerSize + 5 + LogRecordFormat.headerSize + 1
        bytes[second] ^= 0x10
        let scan = LogRecordFormat.scan(bytes)
        #expect(scan.records == [Self.record("alpha")])
        #expect(scan.damage?.kind == .corrupt)
        #expect(scan.damage?.offset == LogRecordFormat.headerSize + 5)
        // A length field corrupted is caught too (the CRC covers it).
        var lengthFlip = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        lengthFlip[1] ^= 0x01
        #expect(LogRecordFormat.scan(lengthFlip).damage != nil)
        #expect(LogRecordFormat.scan(lengthFlip).records.isEmpty)
    }

    @Test("a log in the line format before checksums reads on, with frames appended after it")
    func legacyLinesThenFrames() async throws {
        let path = Self.tempPath()
        try Data("old one\nold two\n".utf8).write(to: URL(fileURLWithPath: path))
        let log = try AppendLog(path: path)
        try await log.append([Self.record("new three")])
        #expect(try Self.strings(path) == ["old one", "old two", "new three"])
    }

    @Test("creating a log fsyncs its directory; an existing one appends at its end")
    func createAndReopen() async throws {
        let path = Self.tempPath()
        do {
            let log = try AppendLog(path: path)
            try await log.append([Self.record("a")])
        }
        let again = try AppendLog(path: path)
        try await again.append([Self.record("b")])
        #expect(try Self.strings(path) == ["a", "b"])
    }
}
