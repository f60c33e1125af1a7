import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import Node

/// The webhook client against the reference receiver, both on real sockets on 127.0.0.1: what a
/// receiver accepts and refuses, the client's failure modes, and `qunbo webhooks listen` run as a
/// process.
@Suite("Webhook client and receiver")
struct WebhookClientTests {
    static let secret = "whsec_client_test"
    static let body = #"{"id":"wh_1","type":"live.started","group":"g1","session":"s1","at":"x","data":{}}"#
    let group = MultiThreadedEventLoopGroup.singleton
    var client: WebhookClient { WebhookClient(group: group) }

    @Test func aSignedDeliveryIsAnsweredOKAndSeenByteForByte() async throws {
        let receiver = try await Receiver.start(Self.settings())
        let status = try await post(Self.body, to: receiver.url, headers: Self.signed(Self.body))
        await receiver.close()
        #expect(status == 200)
        #expect(receiver.deliveries == [Self.body])
        #expect(receiver.rejections.isEmpty)
    }

    @Test func forgedTamperedStaleAndUnsignedDeliveriesAreRefused() async throws {
        let receiver = try await Receiver.start(Self.settings())
        let now = Int64(Date().timeIntervalSince1970)
        let tampered = Self.body.replacingOccurrences(of: "g1", with: "g2")
        let attempts: [(String, [(String, String)])] = [
            (Self.body, Self.signed(Self.body, secret: "not-the-secret")),
            (tampered, Self.signed(Self.body)),
            (Self.body, Self.signed(Self.body, at: now - 1_000)),
            (Self.body, []),
        ]
        for (body, headers) in attempts {
            #expect(try await post(body, to: receiver.url, headers: headers) == 400)
        }
        await receiver.close()
        #expect(receiver.deliveries.isEmpty)
        let reasons = receiver.rejections
        #expect(reasons.count == 4)
        #expect(reasons.filter { $0.contains("does not match") }.count == 2)
        // At least 1000 s: the receiver reads its clock later than the test did (seconds later,
        // in a loaded CI pass).
        #expect(
            reasons.contains { reason in
                guard let range = reason.range(of: #"is \d+ s old"#, options: .regularExpression) else { return false }
                return Int(reason[range].split(separator: " ")[1]).map { $0 >= 1000 } ?? false
            },
            "\(reasons)"
        )
        #expect(reasons.contains { $0.contains("missing") })
    }

    @Test func aReceiverFailingOnPurposeAnswers500ThenAccepts() async throws {
        let receiver = try await Receiver.start(Self.settings(failFor: .seconds(1)))
        let started = ContinuousClock.now
        #expect(try await post(Self.body, to: receiver.url, headers: Self.signed(Self.body)) == 500)
        var status = 500
        while status == 500, ContinuousClock.now - started < .seconds(60) {
            try await Task.sleep(for: .milliseconds(100))
            status = try await post(Self.body, to: receiver.url, headers: Self.signed(Self.body))
        }
        await receiver.close()
        #expect(status == 200)
        #expect(ContinuousClock.now - started >= .seconds(1))
        #expect(receiver.deliveries == [Self.body])
    }

    @Test func anOversizedBodyIsAnswered413() async throws {
        let receiver = try await Receiver.start(Self.settings(maxBodyBytes: 1_024))
        let big = #"{"pad":""# + String(repeating: "x", count: 4_000) + #""}"#
        #expect(try await post(big, to: receiver.url, headers: Self.signed(big)) == 413)
        await receiver.close()
        #expect(receiver.deliveries.isEmpty)
    }

    @Test func aReceiverThatNeverAnswersTimesOutWithinTheTimeout() async throws {
        // Accepts connections and never reads or writes.
        let silent = try await ServerBootstrap(group: group)
            .childChannelInitializer { $0.eventLoop.makeSucceededVoidFuture() }
            .bind(host: "127.0.0.1", port: 0).get()
        let started = ContinuousClock.now
        await #expect(throws: WebhookClientError.timedOut) {
            try await post(
                Self.body,
                to: "http://127.0.0.1:\(silent.localAddress!.port!)/",
                timeout: .milliseconds(300)
            )
        }
        // Only "it ended, by its timeout": a deadline, not a latency. In the parallel unit pass,
        // CPU-bound simulation tests can hold both of the cooperative pool's threads for a minute
        // (55 s seen in CI), and this task resumes only when one is free.
        #expect(ContinuousClock.now - started < .seconds(180), "the 300 ms timeout did not end the attempt")
        try await silent.close()
    }

    @Test func aClosedPortIsAConnectError() async throws {
        let closed = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let port = closed.localAddress!.port!
        try await closed.close()
        let error = await #expect(throws: WebhookClientError.self) {
            try await post(Self.body, to: "http://127.0.0.1:\(port)/hook")
        }
        #expect(error?.isConnect == true, "\(String(describing: error))")
    }

    @Test func httpsToAPlainHTTPServerFailsTheTLSHandshake() async throws {
        let receiver = try await Receiver.start(Self.settings())
        // A long timeout: on a loaded machine the handshake's failure, not the clock, must end it.
        let error = await #expect(throws: WebhookClientError.self) {
            try await post(Self.body, to: "https://127.0.0.1:\(receiver.port)/", timeout: .seconds(60))
        }
        await receiver.close()
        #expect(error?.isConnect == true, "\(String(describing: error))")
    }

    @Test func urlsParseIntoSchemeHostPortAndPath() throws {
        func parsed(_ url: String) throws -> String {
            let t = try WebhookClient.parse(url: url)
            return "\(t.scheme) \(t.host) \(t.port) \(t.path)"
        }
        #expect(try parsed("http://example.com") == "http example.com 80 /")
        #expect(try parsed("HTTPS://hooks.example.com/q/x?a=1#frag") == "https hooks.example.com 443 /q/x?a=1")
        #expect(try parsed("http://127.0.0.1:8099?k=v") == "http 127.0.0.1 8099 /?k=v")
        #expect(try parsed("http://[::1]:9000/h") == "http ::1 9000 /h")
        #expect(try parsed("https://[::1]/h") == "https ::1 443 /h")
        #expect(throws: WebhookClientError.unsupportedScheme("ftp")) { try WebhookClient.parse(url: "ftp://x/") }
        for bad in [
            "example.com/hook", "http://", "http:///path", "http://:80/", "http://u:p@example.com/",
            "http://example.com:0/", "http://example.com:99999/", "http://exa mple.com/", "http://a/\r\nX: y",
            "http://::1/",
        ] {
            #expect(throws: WebhookClientError.self, "\(bad)") { try WebhookClient.parse(url: bad) }
        }
    }

    @Test func theRequestHeadNamesTheHostAndClosesTheConnection() throws {
        let head = WebhookClient.requestHead(
            try WebhookClient.parse(url: "http://[::1]:9000/h?x=1"),
            headers: [("Qunbo-Signature", "t=1,v1=ab")],
            contentLength: 5
        )
        #expect(head.uri == "/h?x=1")
        #expect(head.headers["Host"] == ["[::1]:9000"])
        #expect(head.headers["Content-Length"] == ["5"])
        #expect(head.headers["Connection"] == ["close"])
        #expect(head.headers["Content-Type"] == ["application/json"])
        #expect(head.headers["User-Agent"] == ["qunbo-webhooks/1"])
        #expect(head.headers["Qunbo-Signature"] == ["t=1,v1=ab"])
    }

    @Test func theWebhooksJSONAlwaysCarriesItsNullableFields() throws {
        let answer = AdminAPI.WebhooksJSON(node: "n1", destinations: [.init(url: "http://h/")])
        let json = String(decoding: try JSONEncoder().encode(answer), as: UTF8.self)
        #expect(json.contains(#""lastStatus":null"#) && json.contains(#""oldestPendingSeconds":null"#))
        let decoded = try JSONDecoder().decode(AdminAPI.WebhooksJSON.self, from: Data(json.utf8))
        #expect(decoded.destinations.first?.url == "http://h/")
    }

    /// `qunbo webhooks listen` as a process: its start line, a delivery on stdout, a refusal on
    /// stderr, and exit 0 on SIGTERM.
    @Test func theListenCommandPrintsDeliveriesAndRejections() async throws {
        let listener = try ListenProcess(["--secret", Self.secret, "--listen", "127.0.0.1:0"])
        defer { listener.stop() }
        let start = try await listener.waitFor("the listening line") { _, err in
            err.split(separator: "\n").first { $0.hasPrefix("listening on http://127.0.0.1:") }
        }
        let url = String(start.dropFirst("listening on ".count)) + "/hook"
        #expect(try await post(Self.body, to: url, headers: Self.signed(Self.body)) == 200)
        _ = try await listener.waitFor("the delivery on stdout") { out, _ in out == Self.body + "\n" ? out : nil }
        #expect(try await post(Self.body, to: url, headers: Self.signed(Self.body, secret: "forged")) == 400)
        _ = try await listener.waitFor("the rejection on stderr") { _, err in
            err.split(separator: "\n").first { $0.hasPrefix("rejected: signature does not match") }
        }
        #expect(try await listener.terminate() == 0)
        #expect(listener.output == Self.body + "\n")
    }

    // MARK: - Helpers

    static func settings(failFor: Duration? = nil, maxBodyBytes: Int = 1 << 20) -> WebhookReceiver.Settings {
        WebhookReceiver.Settings(secret: secret, failFor: failFor, maxBodyBytes: maxBodyBytes)
    }

    static func signed(
        _ body: String,
        secret: String = Self.secret,
        at timestamp: Int64 = Int64(Date().timeIntervalSince1970)
    ) -> [(String, String)] {
        [("Qunbo-Signature", WebhookSignature.sign(body: Data(body.utf8), secret: secret, timestamp: timestamp).header)]
    }

    func post(
        _ body: String,
        to url: String,
        headers: [(String, String)] = [],
        timeout: Duration = .seconds(60)
    ) async throws(WebhookClientError) -> Int {
        try await client.post(url: url, body: ByteBuffer(string: body), headers: headers, timeout: timeout)
    }
}

extension WebhookClientError {
    fileprivate var isConnect: Bool {
        if case .connect = self { return true }
        return false
    }
}

/// A receiver on a free port that records what its callbacks saw.
private final class Receiver: Sendable {
    private let seen = Mutex<(deliveries: [String], rejections: [String])>(([], []))
    private let receiver = Mutex<WebhookReceiver?>(nil)

    static func start(_ settings: WebhookReceiver.Settings) async throws -> Receiver {
        let log = Receiver()
        let started = try await WebhookReceiver.start(
            settings: settings,
            onDelivery: { body in log.seen.withLock { $0.deliveries.append(String(decoding: body, as: UTF8.self)) } },
            onRejected: { reason in log.seen.withLock { $0.rejections.append(reason) } }
        )
        log.receiver.withLock { $0 = started }
        return log
    }

    var port: Int { receiver.withLock { $0?.port ?? 0 } }
    var url: String { "http://127.0.0.1:\(port)/hook" }
    var deliveries: [String] { seen.withLock { $0.deliveries } }
    var rejections: [String] { seen.withLock { $0.rejections } }
    func close() async { await receiver.withLock { $0 }?.close() }
}

/// `qunbo webhooks listen …` (the binary built beside the test bundle, as the process tests find
/// it), its stdout and stderr captured to files that can be read at any moment.
private final class ListenProcess {
    private let process: Process
    private let outURL: URL
    private let errURL: URL

    init(_ arguments: [String]) throws {
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let binary = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("qunbo")
        let dir = FileManager.default.temporaryDirectory
        outURL = dir.appendingPathComponent("webhooks-listen-\(UUID()).out")
        errURL = dir.appendingPathComponent("webhooks-listen-\(UUID()).err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let process = Process()
        process.executableURL = binary
        process.arguments = ["webhooks", "listen"] + arguments
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
    }

    var output: String { (try? String(contentsOf: outURL, encoding: .utf8)) ?? "" }
    var errors: String { (try? String(contentsOf: errURL, encoding: .utf8)) ?? "" }

    /// Polls stdout and stderr until `found` returns something, for at most 10 s.
    /// Deadlines are generous: the unit pass runs every suite in parallel on two cores, and a
    /// process may take seconds to start then; it returns as soon as the line is there.
    func waitFor<S: StringProtocol>(_ what: String, _ found: (String, String) -> S?) async throws -> String {
        // No early exit on `!process.isRunning`: two CI runs on a loaded machine gave up with the
        // line already in the file (read just before it was written, then a stale "not
        // running"); the output is read once more before giving up.
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let match = found(output, errors) { return String(match) }
            try await Task.sleep(for: .milliseconds(20))
        }
        if let match = found(output, errors) { return String(match) }
        throw ListenTimeout(what: what, output: output, errors: errors)
    }

    /// SIGTERM, then the exit status (within 10 s).
    func terminate() async throws -> Int32 {
        process.terminate()
        let deadline = ContinuousClock.now + .seconds(60)
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        guard !process.isRunning else {
            throw ListenTimeout(what: "exit after SIGTERM", output: output, errors: errors)
        }
        return process.terminationStatus
    }

    /// SIGKILL if still running (clean-up), and the capture files removed.
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: outURL)
        try? FileManager.default.removeItem(at: errURL)
    }
}

private struct ListenTimeout: Error, CustomStringConvertible {
    var what: String
    var output: String
    var errors: String
    var description: String { "gave up waiting for \(what); stdout: \(output); stderr: \(errors)" }
}
