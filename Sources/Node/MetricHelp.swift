/// `# HELP` text for every metric family the node exports.
///
/// Metrics are created through swift-metrics, whose API has no help text, so the exporter adds
/// it here. A family missing from this table has no HELP line, which `promtool check metrics`
/// flags: the process tests run promtool, so a new metric without documentation fails them.
enum MetricHelp {
    static let text: [String: String] = [
        "qunbo_http_requests_total": "HTTP requests served, by route pattern, method and status.",
        "qunbo_http_request_duration_seconds": "Time from request head to the end of the response, by route.",
        "qunbo_http_open_connections": "Client and peer connections open now, by protocol (http1, http2).",
        "qunbo_http_connections_total": "Connections accepted since start, by negotiated protocol.",
    ]

    /// Inserts a HELP line before each family's TYPE line.
    static func annotate(_ exposition: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(exposition.count + 2048)
        let typePrefix = Array("# TYPE ".utf8)
        var lineStart = 0
        for i in exposition.indices where exposition[i] == UInt8(ascii: "\n") {
            let line = exposition[lineStart...i]
            if line.starts(with: typePrefix) {
                let rest = line.dropFirst(typePrefix.count)
                if let space = rest.firstIndex(of: UInt8(ascii: " ")) {
                    let name = String(decoding: rest[rest.startIndex..<space], as: UTF8.self)
                    if let help = text[name] { out.append(contentsOf: Array("# HELP \(name) \(help)\n".utf8)) }
                }
            }
            out.append(contentsOf: line)
            lineStart = i + 1
        }
        out.append(contentsOf: exposition[lineStart...])
        return out
    }
}
