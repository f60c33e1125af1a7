import NIOCore

/// One file of the browser pages, built into the binary by SwiftPM (`.embedInCode` in
/// Package.swift): nothing to ship beside `qunbo`, and a node always serves the pages that
/// match its own API.
struct WebAsset: Sendable {
    let bytes: ByteBuffer
    let contentType: String
    /// A strong validator: FNV-1a of the bytes, so a reload after an upgrade fetches the new file
    /// and an unchanged one costs a 304.
    let etag: String

    init(_ bytes: [UInt8], contentType: String) {
        self.bytes = ByteBuffer(bytes: bytes)
        self.contentType = contentType
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        etag = "\"" + String(hash, radix: 16) + "\""
    }

    static let html = "text/html; charset=utf-8"
    static let javascript = "text/javascript; charset=utf-8"
    static let css = "text/css; charset=utf-8"

    static let watchPage = WebAsset(PackageResources.watch_html, contentType: html)
    static let consolePage = WebAsset(PackageResources.console_html, contentType: html)
    static let sdk = WebAsset(PackageResources.qunbo_js, contentType: javascript)
    /// The pages' own scripts and styles, served under `/web/<name>`.
    static let pageFiles: [String: WebAsset] = [
        "watch.js": WebAsset(PackageResources.watch_js, contentType: javascript),
        "watch.css": WebAsset(PackageResources.watch_css, contentType: css),
        "console.js": WebAsset(PackageResources.console_js, contentType: javascript),
        "console.css": WebAsset(PackageResources.console_css, contentType: css),
        "common.css": WebAsset(PackageResources.common_css, contentType: css),
        "common.js": WebAsset(PackageResources.common_js, contentType: javascript),
        "redpackets.js": WebAsset(PackageResources.redpackets_js, contentType: javascript),
        "products.js": WebAsset(PackageResources.products_js, contentType: javascript),
        "board.js": WebAsset(PackageResources.board_js, contentType: javascript),
        "modules.css": WebAsset(PackageResources.modules_css, contentType: css),
    ]
}
