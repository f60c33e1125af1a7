import Foundation

/// One HTTP request sent with curl, as a client app would send it.
enum Curl {
    /// Sends `method url` with an optional bearer `token`, JSON body or body file and extra headers;
    /// returns the status (0 when no answer came: refused, reset, timed out) and the body.
    static func call(
        _ method: String,
        _ url: String,
        token: String?,
        json: String? = nil,
        headers: [String] = [],
        bodyFile: String? = nil,
        http2: Bool = false,
        timeout: Double = 30
    ) async throws -> (status: Int, body: String) {
        var args = ["-s", "-X", method, "-o", "-", "-w", "\n%{http_code}", "--max-time", String(timeout)]
        if http2 { args.append("--http2-prior-knowledge") }
        if let token { args += ["-H", "Authorization: Bearer \(token)"] }
        for h in headers { args += ["-H", h] }
        if let json { args += ["-H", "Content-Type: application/json", "--data-binary", json] }
        if let bodyFile { args += ["--data-binary", "@\(bodyFile)"] }
        args.append(url)
        let result = try await Tools.run("curl", args, timeout: timeout + 5)
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.last ?? "") ?? 0
        return (status, lines.dropLast().joined(separator: "\n"))
    }
}
