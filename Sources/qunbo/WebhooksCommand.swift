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

/// `qunbo webhooks show`: per destination, what waits and how delivery went, over the whole
/// cluster (each log's primary sends its webhooks, so one node sees only its share).
struct WebhooksShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "List webhook destinations with backlog, delivery counts and last answer, summed over the cluster."
    )
    @OptionGroup var remote: RemoteOptions
    @Flag(help: "Only the node --node names, not every member it knows.") var local = false

    func run() async throws {
        let answers = try await local ? [Self.fetch(remote)] : Self.fromEveryMember(remote)
        if remote.json {
            let data = try JSONEncoder().encode(answers)
            return print(String(decoding: data, as: UTF8.self))
        }
        let byURL = Dictionary(grouping: answers.flatMap(\.destinations), by: \.url)
        let urls = answers.flatMap(\.destinations).map(\.url).reduce(into: [String]()) {
            if !$0.contains($1) { $0.append($1) }
        }
        if urls.isEmpty { return print("(no webhook destinations configured)") }
        printTable(
            ["URL", "BACKLOG", "OLDEST", "DELIVERED", "ATTEMPTS", "FAILURES", "DROPPED", "LAST"],
            urls.map { url in
                let all = byURL[url] ?? []
                // The answer of the node with the oldest owed delivery tells what blocks it.
                let worst = all.max {
                    ($0.oldestPendingSeconds ?? -1, $0.attempts) < ($1.oldestPendingSeconds ?? -1, $1.attempts)
                }
                let last = [worst?.lastStatus.map(String.init), worst?.lastError].compactMap { $0 }.joined(
                    separator: " "
                )
                func sum(_ field: (AdminAPI.WebhooksJSON.Destination) -> Int) -> String {
                    String(all.map(field).reduce(0, +))
                }
                return [
                    url, sum(\.backlog), worst?.oldestPendingSeconds.map { String(format: "%.1f s", $0) } ?? "-",
                    sum(\.delivered), sum(\.attempts), sum(\.failures), sum(\.dropped), last.isEmpty ? "-" : last,
                ]
            }
        )
        print("(\(answers.count) node(s): \(answers.map(\.node).joined(separator: ", ")))")
    }

    static func fetch(_ options: RemoteOptions) async throws -> AdminAPI.WebhooksJSON {
        let data = try await AdminClient(options: options).call("GET", "/admin/v1/webhooks")
        return try JSONDecoder().decode(AdminAPI.WebhooksJSON.self, from: data)
    }

    /// Every alive or suspect member the named node knows, asked in turn; one that does not
    /// answer is named on stderr and left out.
    static func fromEveryMember(_ remote: RemoteOptions) async throws -> [AdminAPI.WebhooksJSON] {
        let data = try await AdminClient(options: remote).call("GET", "/admin/v1/members")
        let members = try JSONDecoder().decode(AdminAPI.MembersJSON.self, from: data).members
        var answers: [AdminAPI.WebhooksJSON] = []
        for member in members where member.state == "alive" || member.state == "suspect" {
            var options = remote
            options.node = member.address
            do {
                answers.append(try await fetch(options))
            } catch {
                FileHandle.standardError.write(
                    Data("qunbo: \(member.id) (\(member.address)) did not answer: \(error)\n".utf8)
                )
            }
        }
        return answers
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
        guard !secret.isEmpty else { throw CLIError("--secret is empty: give the node's --webhook-secret") }
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
