import ArgumentParser
import Foundation
import Node

/// `qunbo webhooks`: a node's webhook delivery state, and a reference receiver to point
/// `--webhook-url` at while integrating.
struct WebhooksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhooks",
        abstract: "Show webhook delivery state, or run a receiver that verifies deliveries.",
        subcommands: [WebhooksShowCommand.self, WebhooksListenCommand.self],
        defaultSubcommand: WebhooksShowCommand.self
    )
}

/// `qunbo webhooks show`: per destination, what waits and how delivery went.
struct WebhooksShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "List a node's webhook destinations with backlog, delivery counts and last answer."
    )
    @OptionGroup var remote: RemoteOptions

    func run() async throws {
        let data = try await AdminClient(options: remote).call("GET", "/admin/v1/webhooks")
        if remote.json { return print(String(decoding: data, as: UTF8.self)) }
        let answer = try JSONDecoder().decode(AdminAPI.WebhooksJSON.self, from: data)
        if answer.destinations.isEmpty { return print("(no webhook destinations configured)") }
        printTable(
            ["URL", "BACKLOG", "OLDEST", "DELIVERED", "ATTEMPTS", "FAILURES", "DROPPED", "LAST"],
            answer.destinations.map { d in
                let last = [d.lastStatus.map(String.init), d.lastError].compactMap { $0 }.joined(separator: " ")
                return [
                    d.url, String(d.backlog), d.oldestPendingSeconds.map { String(format: "%.1f s", $0) } ?? "-",
                    String(d.delivered), String(d.attempts), String(d.failures), String(d.dropped),
                    last.isEmpty ? "-" : last,
                ]
            }
        )
    }
}

/// `qunbo webhooks listen`: verified deliveries on stdout, one line each as received, so a
/// script (or a test) can read them line by line; refusals on stderr.
struct WebhooksListenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listen",
        abstract: "Receive webhooks: print each verified delivery's body on stdout (SIGTERM or SIGINT stops)."
    )
    @Option(help: "The secret the node signs deliveries with (--webhook-secret).") var secret: String
    @Option(help: "HOST:PORT to listen on (port 0: any free port).") var listen = "127.0.0.1:8099"
    @Option(help: "Answer 500 to every request for this many seconds after start (to watch retries).")
    var failFor: Double?
    @Option(help: "Refuse signatures older or newer than this many seconds.") var tolerance: Int64 = 300

    func run() async throws {
        guard let address = HostPort(parsing: listen) else { throw CLIError("bad --listen \(listen) (HOST:PORT)") }
        let settings = WebhookReceiver.Settings(
            secret: secret,
            host: address.host,
            port: address.port,
            tolerance: tolerance,
            failFor: failFor.map { .milliseconds(Int64($0 * 1000)) }
        )
        // Unbuffered writes (`FileHandle`), one per line: a reader sees each line at once.
        let receiver = try await WebhookReceiver.start(
            settings: settings,
            onDelivery: { body in FileHandle.standardOutput.write(Data(body + [0x0A])) },
            onRejected: { reason in FileHandle.standardError.write(Data("rejected: \(reason)\n".utf8)) }
        )
        let bound = HostPort(host: address.host, port: receiver.port)
        FileHandle.standardError.write(Data("listening on http://\(bound)\n".utf8))
        await terminationSignal()
        await receiver.close()
    }
}

/// Returns at the first SIGTERM or SIGINT, which then no longer kill the process: the command
/// returns and exits 0.
private func terminationSignal() async {
    let (signals, continuation) = AsyncStream<Void>.makeStream()
    let sources = [SIGTERM, SIGINT].map { number in
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler { continuation.yield() }
        source.resume()
        return source
    }
    for await _ in signals { break }
    withExtendedLifetime(sources) {}
}
