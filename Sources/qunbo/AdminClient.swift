import ArgumentParser
import Foundation
import Node

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Where operator commands send their requests, and with what credentials.
struct RemoteOptions: ParsableArguments {
    @Option(help: "Node base URL (default: $QUNBO_NODE or http://127.0.0.1:7000).") var node: String?
    @Option(help: "Admin token (default: $QUNBO_TOKEN).") var token: String?
    @Option(
        name: [.customLong("cluster-secret"), .customLong("secret")],
        help: "Cluster secret to mint a short-lived operator token with (default: $QUNBO_CLUSTER_SECRET)."
    )
    var secret: String?
    @Flag(help: "Print the node's JSON instead of a table.") var json = false

    var baseURL: String {
        let env = ProcessInfo.processInfo.environment
        var url = node ?? env["QUNBO_NODE"] ?? "http://127.0.0.1:7000"
        if !url.contains("://") { url = "http://" + url }
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    func bearer() async throws -> String {
        let env = ProcessInfo.processInfo.environment
        if let token = token ?? env["QUNBO_TOKEN"], !token.isEmpty { return token }
        let secret = try resolveClusterSecret(secret)
        let claims = AccessClaims(sub: "qunbo-cli", exp: Date().addingTimeInterval(300), admin: true)
        return try await TokenMinter.mint(secret: secret, claims: claims)
    }
}

/// A small HTTP client for the operator API, with errors phrased for the operator.
struct AdminClient {
    let options: RemoteOptions

    /// Sends the request and returns the JSON body; non-2xx answers become one-line errors.
    func call(_ method: String, _ path: String) async throws -> Data {
        let urlString = options.baseURL + path
        guard let url = URL(string: urlString) else { throw CLIError("bad node URL \(options.baseURL)") }
        var request = URLRequest(url: url, timeoutInterval: 10)
        request.httpMethod = method
        request.setValue("Bearer \(try await options.bearer())", forHTTPHeaderField: "Authorization")
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw CLIError("cannot reach node at \(options.baseURL): \(error.localizedDescription)")
        }
        guard let http = response as? HTTPURLResponse else { throw CLIError("no HTTP answer from \(options.baseURL)") }
        guard (200..<300).contains(http.statusCode) else {
            let detail =
                (try? JSONSerialization.jsonObject(with: data) as? [String: Any])
                .flatMap { $0["error"] as? [String: Any] }
                .flatMap { $0["message"] as? String } ?? String(decoding: data.prefix(200), as: UTF8.self)
            switch http.statusCode {
            case 401: throw CLIError("the node refused the token (401): \(detail)")
            case 403: throw CLIError("the token is not an admin token (403): \(detail)")
            default: throw CLIError("\(method) \(path) failed with \(http.statusCode): \(detail)")
            }
        }
        return data
    }
}

/// Prints rows as an aligned table.
func printTable(_ header: [String], _ rows: [[String]]) {
    var widths = header.map(\.count)
    for row in rows {
        for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
    }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, c in c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
            .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }
    print(line(header))
    for row in rows { print(line(row)) }
}
