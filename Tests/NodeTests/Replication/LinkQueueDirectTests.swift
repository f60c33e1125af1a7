import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import Node

/// The link queue writing batches straight to an attached stream, on the stream's loop.
@Suite("Link queue, direct to the stream")
struct LinkQueueDirectTests {
    final class Sink: Sendable {
        let loop = EmbeddedEventLoop()
        let writable = Atomic<Bool>(true)
        let batches = Mutex<[[LinkMessage]]>([])

        var direct: LinkQueue.DirectSink {
            LinkQueue.DirectSink(
                loop: loop,
                isWritable: { self.writable.load(ordering: .relaxed) },
                write: { payload in
                    let messages = (try? LinkMessage.decodeAll(payload)) ?? []
                    self.batches.withLock { $0.append(messages) }
                }
            )
        }

        /// Nodes named in each batch's `leaving` messages, batch by batch.
        var written: [[String]] {
            batches.withLock {
                $0.map { $0.compactMap { if case .leaving(_, _, let node) = $0 { node } else { nil } } }
            }
        }
    }

    static func leaving(_ node: String) -> LinkMessage { .leaving(group: "g", session: "s", node: node) }

    @Test("what is pushed before the loop runs leaves as one batch, in order")
    func coalesces() {
        let queue = LinkQueue(limitBytes: 1 << 20)
        let sink = Sink()
        queue.attach(sink.direct)
        for node in ["a", "b", "c"] { #expect(queue.push(Self.leaving(node))) }
        #expect(sink.written.isEmpty, "written before the loop ran")
        sink.loop.run()
        #expect(sink.written == [["a", "b", "c"]])
        #expect(queue.push(Self.leaving("d")))
        sink.loop.run()
        #expect(sink.written == [["a", "b", "c"], ["d"]])
        #expect(queue.queuedBytes == 0)
    }

    @Test("a stream that takes no writes holds the batch until it resumes; the limit still holds")
    func waitsForWritability() {
        let queue = LinkQueue(limitBytes: 64)
        let sink = Sink()
        queue.attach(sink.direct)
        sink.writable.store(false, ordering: .relaxed)
        var accepted = 0
        for i in 0..<20 where queue.push(Self.leaving("n\(i)")) { accepted += 1 }
        sink.loop.run()
        #expect(sink.written.isEmpty)
        #expect(accepted < 20, "the queue's limit applies while the stream is not writable")
        sink.writable.store(true, ordering: .relaxed)
        queue.resume()
        sink.loop.run()
        #expect(sink.written == [(0..<accepted).map { "n\($0)" }])
    }

    @Test("messages queued without a stream leave on attach; after detach they wait again")
    func attachAndDetach() async {
        let queue = LinkQueue(limitBytes: 1 << 20)
        #expect(queue.push(Self.leaving("early")))
        let sink = Sink()
        queue.attach(sink.direct)
        sink.loop.run()
        #expect(sink.written == [["early"]])
        queue.detach()
        #expect(queue.push(Self.leaving("later")))
        sink.loop.run()
        #expect(sink.written == [["early"]])
        // The task-driven sender (used with fault injection) takes it instead.
        let payload = await queue.take()
        #expect(payload.map { (try? LinkMessage.decodeAll($0))?.count } == 1)
    }
}
