import Foundation
import Testing

@testable import Node

/// The webhook signature: Stripe's scheme, checked against an independent HMAC (openssl) and
/// for every way a receiver must refuse.
@Suite("Webhook signatures")
struct WebhookSignatureTests {
    static let secret = "whsec_test_0123456789abcdef"
    static let body = Data(#"{"id":"wh_1","type":"live.started","group":"g1"}"#.utf8)

    @Test func matchesOpenSSLsHMACOfTimestampDotBody() throws {
        let signed = WebhookSignature.sign(body: Self.body, secret: Self.secret, timestamp: 1_796_000_000)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["dgst", "-sha256", "-hmac", Self.secret, "-r"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data("1796000000.".utf8) + Self.body)
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        let digest = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .split(separator: " ").first.map(String.init)
        #expect(signed.header == "t=1796000000,v1=\(digest ?? "?")")
    }

    @Test func aReceiverAcceptsTheSignedBodyWithinTolerance() throws {
        let header = WebhookSignature.sign(body: Self.body, secret: Self.secret, timestamp: 1_000).header
        try WebhookSignature.verify(header: header, body: Self.body, secret: Self.secret, now: 1_299)
        // A rotated secret: any one v1 may match.
        let both = header + ",v1=" + String(repeating: "0", count: 64) + ",v0=ignored"
        try WebhookSignature.verify(header: both, body: Self.body, secret: Self.secret, now: 1_000)
    }

    @Test func aReceiverRefusesForgedStaleAndMalformedDeliveries() {
        let header = WebhookSignature.sign(body: Self.body, secret: Self.secret, timestamp: 1_000).header
        var tampered = Self.body
        tampered[tampered.count - 2] = UInt8(ascii: "2")
        #expect(throws: WebhookSignature.Refusal.mismatch) {
            try WebhookSignature.verify(header: header, body: tampered, secret: Self.secret, now: 1_000)
        }
        #expect(throws: WebhookSignature.Refusal.mismatch) {
            try WebhookSignature.verify(header: header, body: Self.body, secret: "another secret", now: 1_000)
        }
        // The timestamp is under the MAC: moving it forward breaks the signature.
        let moved = header.replacingOccurrences(of: "t=1000", with: "t=2000")
        #expect(throws: WebhookSignature.Refusal.mismatch) {
            try WebhookSignature.verify(header: moved, body: Self.body, secret: Self.secret, now: 2_000)
        }
        #expect(throws: WebhookSignature.Refusal.stale(seconds: 301)) {
            try WebhookSignature.verify(header: header, body: Self.body, secret: Self.secret, now: 1_301)
        }
        for bad in [nil, "", "t=1000", "v1=abc", "t=x,v1=abc", String(repeating: "t=1,", count: 2_000)] {
            #expect(throws: WebhookSignature.Refusal.malformed, "\(bad ?? "nil")") {
                try WebhookSignature.verify(header: bad, body: Self.body, secret: Self.secret, now: 1_000)
            }
        }
    }
}
