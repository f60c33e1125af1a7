import Foundation
import Testing

@testable import Node

@Suite("Append log")
struct AppendLogTests {
    static func tempPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("log-\(UUID()).jsonl").path
    }

    @Test("concurrent appends are all durable, each record whole, order kept per caller")
    func groupCommit() async throws {
        let path = Self.tempPath()
        let log = try AppendLog(path: path)
        await withTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    for i in 0..<50 { try? await log.append([Array("w\(writer)-\(i)".utf8)]) }
                }
            }
        }
        let records = try AppendLog.readAll(path: path).map { String(decoding: $0, as: UTF8.self) }
        #expect(records.count == 400)
        for writer in 0..<8 {
            #expect(records.filter { $0.hasPrefix("w\(writer)-") } == (0..<50).map { "w\(writer)-\($0)" })
        }
    }

    @Test("a torn last line (a crash mid-write) is dropped; earlier records survive")
    func tornTail() async throws {
        let path = Self.tempPath()
        let log = try AppendLog(path: path)
        try await log.append([Array("one".utf8), Array("two".utf8)])
        let handle = FileHandle(forWritingAtPath: path)!
        handle.seekToEndOfFile()
        handle.write(Data("thr".utf8))
        try handle.close()
        #expect(try AppendLog.readAll(path: path).map { String(decoding: $0, as: UTF8.self) } == ["one", "two"])
    }

    @Test("a missing log reads as empty; an unwritable path is a typed error")
    func edges() throws {
        #expect(try AppendLog.readAll(path: "/nonexistent/dir/log").isEmpty)
        #expect(throws: StorageError.self) { try AppendLog(path: "/nonexistent/dir/log") }
    }
}
