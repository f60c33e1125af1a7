import ArgumentParser
import Foundation

/// `qunbo`: one binary for the node and the operator's commands.
@main
struct Qunbo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qunbo",
        abstract: "Qunbo (群播): a federated cluster for group live streaming.",
        version: "0.1.0",
        subcommands: [
            NodeCommand.self, TokenCommand.self, MembersCommand.self, RingCommand.self, SessionsCommand.self,
            DrainCommand.self, WebhooksCommand.self,
        ]
    )

    /// Parses and runs a command; every failure becomes one line on stderr (`qunbo: ...`) and a
    /// non-zero exit, never a backtrace. Help and version requests print as usual.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                exit(withError: error)  // --help, --version
            }
            let message =
                fullMessage(for: error)
                .split(separator: "\n")
                .first
                .map { String($0).replacingOccurrences(of: "Error: ", with: "") } ?? "\(error)"
            FileHandle.standardError.write(Data("qunbo: error: \(message)\n".utf8))
            Foundation.exit(code.rawValue == 0 ? 1 : code.rawValue)
        }
    }
}

/// An error already phrased for the operator.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
