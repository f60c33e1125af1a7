import CoreMetrics
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

@testable import Node

/// A settable clock for `PeerAuth` (unix ms).
final class TestClock: Sendable {
    let now = Mutex<Int64>(1_800_000_000_000)
    var read: @Sendable () -> Int64 { { self.now.withLock { $0 } } }
    func advance(ms: Int64) { now.withLock { $0 += ms } }
}

@Suite("Peer request authentication")
struct PeerAuthTests {
    static let secret = ClusterSecret(String(repeating: "c", count: 40))!
    static let otherSecret = ClusterSecret(String(repeating: "d", count: 40))!

    static func pair(
        _ clock: TestClock,
        sender: ClusterSecret = PeerAuthTests.secret,
        nonces: NonceCache = NonceCache()
    ) -> (PeerAuth, PeerAuth) {
        (
            PeerAuth(secret: sender, nodeID: "n1", clock: clock.read),
            PeerAuth(secret: secret, nodeID: "n2", nonces: nonces, acceptsFrom: 0, clock: clock.read)
        )
    }

    @Test("a signed request verifies once and names its sender; the same header again is a replay")
    func roundTripAndReplay() {
        let clock = TestClock()
        let (n1, n2) = Self.pair(clock)
        let header = n1.sign(method: .POST, uri: "/internal/v1/gossip")
        #expect(header.hasPrefix("v1 node=n1,ts="))
        #expect(n2.verify(method: .POST, uri: "/internal/v1/gossip", header: header) == .success("n1"))
        #expect(n2.verify(method: .POST, uri: "/internal/v1/gossip", header: header) == .failure(.replayed))
        // Still a replay 29 s later, inside the window.
        clock.advance(ms: 29_000)
        #expect(n2.verify(method: .POST, uri: "/internal/v1/gossip", header: header) == .failure(.replayed))
        // Once out of the window it is refused as skewed, never accepted again.
        clock.advance(ms: 2_000)
        #expect(n2.verify(method: .POST, uri: "/internal/v1/gossip", header: header) == .failure(.skewed))
    }

    @Test("method, path, query, sender and timestamp are covered: changing any one breaks the signature")
    func coverage() {
        let clock = TestClock()
        let (n1, n2) = Self.pair(clock)
        let uri = "/internal/v1/groups/g1/live/write?x=1"
        let good = n1.sign(method: .POST, uri: uri)
        #expect(n2.verify(method: .GET, uri: uri, header: good) == .failure(.badSignature))
        #expect(
            n2.verify(method: .POST, uri: "/internal/v1/groups/g2/live/write?x=1", header: good)
                == .failure(.badSignature)
        )
        #expect(
            n2.verify(method: .POST, uri: "/internal/v1/groups/g1/live/write?x=2", header: good)
                == .failure(.badSignature)
        )
        let parsed = PeerAuth.parse(good)!
        let otherNode = good.replacingOccurrences(of: "node=n1", with: "node=n3")
        #expect(n2.verify(method: .POST, uri: uri, header: otherNode) == .failure(.badSignature))
        let otherTime = good.replacingOccurrences(of: "ts=\(parsed.ts)", with: "ts=\(parsed.ts + 1)")
        #expect(n2.verify(method: .POST, uri: uri, header: otherTime) == .failure(.badSignature))
        var flipped = Array(parsed.nonceHex)
        flipped[0] = flipped[0] == "0" ? "1" : "0"
        let otherNonce = good.replacingOccurrences(of: parsed.nonceHex, with: String(flipped))
        #expect(n2.verify(method: .POST, uri: uri, header: otherNonce) == .failure(.badSignature))
        // The untouched original still passes: none of the refusals above used its nonce.
        #expect(n2.verify(method: .POST, uri: uri, header: good) == .success("n1"))
    }

    @Test("a forged signature and a wrong secret are refused and fill no replay cache")
    func forgedAndWrongSecret() {
        let clock = TestClock()
        let nonces = NonceCache()
        let (_, n2) = Self.pair(clock, nonces: nonces)
        let (stranger, _) = Self.pair(clock, sender: Self.otherSecret)
        let uri = "/internal/v1/link"
        #expect(
            n2.verify(method: .POST, uri: uri, header: stranger.sign(method: .POST, uri: uri))
                == .failure(.badSignature)
        )
        let ts = clock.read()
        let forged =
            "v1 node=n1,ts=\(ts),nonce=\(String(repeating: "a", count: 32)),sig=\(String(repeating: "0", count: 64))"
        #expect(n2.verify(method: .POST, uri: uri, header: forged) == .failure(.badSignature))
        #expect(nonces.count == 0)
    }

    @Test("clocks more than 30 s apart either way are refused; 30 s is accepted")
    func skew() {
        let clock = TestClock()
        let (n1, n2) = Self.pair(clock)
        let now = clock.read()
        for (offset, ok) in [(-30_001, false), (30_001, false), (-30_000, true), (30_000, true), (-120_000, false)] {
            let header = n1.sign(method: .GET, uri: "/internal/v1/groups/g/live", timestamp: now + Int64(offset))
            let result = n2.verify(method: .GET, uri: "/internal/v1/groups/g/live", header: header)
            #expect(ok ? result == .success("n1") : result == .failure(.skewed), "offset \(offset): \(result)")
        }
    }

    @Test("missing, truncated, oversize and malformed headers are refused without a crash")
    func malformed() {
        let clock = TestClock()
        let (n1, n2) = Self.pair(clock)
        let uri = "/internal/v1/gossip"
        let good = n1.sign(method: .POST, uri: uri)
        #expect(n2.verify(method: .POST, uri: uri, header: nil) == .failure(.missing))
        let a32 = String(repeating: "a", count: 32)
        let a64 = String(repeating: "a", count: 64)
        var cases = [
            "", "v1", "v1 ", "v2" + good.dropFirst(2), String(good.dropLast()), String(good.dropLast(64)),
            good + "0", good + ",extra=1", good.uppercased(), good.replacingOccurrences(of: ",", with: ";"),
            good.replacingOccurrences(of: "node=n1", with: "node="),
            good.replacingOccurrences(of: "node=n1", with: "node=a b"),
            "v1 node=n1,ts=-5,nonce=\(a32),sig=\(a64)",
            "v1 node=n1,ts=99999999999999999,nonce=\(a32),sig=\(a64)",
            "v1 node=n1,ts=1,nonce=\(String(repeating: "g", count: 32)),sig=\(a64)",
            String(repeating: "v1 node=n1,", count: 400),
            "v1 node=\(String(repeating: "n", count: 300)),ts=1,nonce=\(a32),sig=\(a64)",
        ]
        cases.append(String(decoding: [0xff, 0xfe, 0x00], as: UTF8.self))
        for header in cases {
            #expect(n2.verify(method: .POST, uri: uri, header: header) == .failure(.malformed), "\(header.prefix(80))")
        }
        #expect(n2.verify(method: .POST, uri: uri, header: good) == .success("n1"))
    }

    @Test("after a restart (an empty replay cache) requests signed before the start are refused")
    func restart() {
        let clock = TestClock()
        let (n1, n2) = Self.pair(clock)
        let header = n1.sign(method: .POST, uri: "/internal/v1/link")
        #expect(n2.verify(method: .POST, uri: "/internal/v1/link", header: header) == .success("n1"))
        clock.advance(ms: 5_000)
        let restarted = PeerAuth(secret: Self.secret, nodeID: "n2", clock: clock.read)
        #expect(restarted.verify(method: .POST, uri: "/internal/v1/link", header: header) == .failure(.beforeStart))
        let fresh = n1.sign(method: .POST, uri: "/internal/v1/link")
        #expect(restarted.verify(method: .POST, uri: "/internal/v1/link", header: fresh) == .success("n1"))
    }

    @Test("the key is derived: a peer signature is not the HMAC under the raw secret")
    func derivedKey() {
        let raw = Array(String(repeating: "c", count: 40).utf8)
        #expect(!ClusterSecret.constantTimeEquals(Self.secret.peerKey.withUnsafeBytes { Array($0) }, raw))
    }
}

@Suite("Replay cache")
struct NonceCacheTests {
    @Test("a nonce is fresh once, then a replay, until its bucket leaves the window")
    func freshThenReplayed() {
        let cache = NonceCache()
        let nonce = NonceCache.Nonce(high: 1, low: 2)
        let t: Int64 = 1_800_000_000_000
        #expect(cache.insert(nonce, timestamp: t, now: t) == .fresh)
        #expect(cache.insert(nonce, timestamp: t, now: t + 1) == .replayed)
        #expect(cache.insert(NonceCache.Nonce(high: 1, low: 3), timestamp: t, now: t) == .fresh)
        #expect(cache.count == 2)
        // 41 s later every timestamp of t's bucket is older than now - 30 s: the bucket is gone.
        #expect(cache.insert(NonceCache.Nonce(high: 9, low: 9), timestamp: t + 41_000, now: t + 41_000) == .fresh)
        #expect(cache.count == 1)
    }

    @Test("memory is bounded: at capacity new nonces are refused, never old ones forgotten")
    func bounded() {
        var settings = NonceCache.Settings()
        settings.capacity = 100
        let cache = NonceCache(settings: settings)
        let t: Int64 = 1_800_000_000_000
        for i in 0..<100 {
            #expect(cache.insert(NonceCache.Nonce(high: 0, low: UInt64(i)), timestamp: t, now: t) == .fresh)
        }
        #expect(cache.insert(NonceCache.Nonce(high: 1, low: 0), timestamp: t, now: t) == .full)
        #expect(cache.insert(NonceCache.Nonce(high: 0, low: 5), timestamp: t, now: t) == .replayed)
        // Time frees room: old buckets drop as they leave the window.
        #expect(cache.insert(NonceCache.Nonce(high: 1, low: 0), timestamp: t + 45_000, now: t + 45_000) == .fresh)
        #expect(cache.count == 1)
    }

    @Test("at most 7 buckets live with the defaults, however timestamps spread in the window")
    func bucketCount() {
        let cache = NonceCache()
        let now: Int64 = 1_800_000_000_000
        for (i, offset) in stride(from: -30_000, through: 30_000, by: 1_000).enumerated() {
            _ = cache.insert(NonceCache.Nonce(high: 2, low: UInt64(i)), timestamp: now + Int64(offset), now: now)
        }
        #expect(cache.bucketCount <= 7)
    }
}

@Suite("Edge gate")
struct PeerGateTests {
    static func request(_ method: HTTPMethod, _ uri: String, _ headers: [(String, String)]) -> Request {
        Request(
            head: HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: HTTPHeaders(headers)),
            isHTTP2: false,
            remoteAddress: nil,
            body: .buffered(.init())
        )
    }

    static func gate(_ clock: TestClock, mtls: Bool = false) -> (PeerGate, PeerAuth) {
        let (n1, n2) = PeerAuthTests.pair(clock)
        let gate = PeerGate(
            auth: n2,
            requireClientCertificate: mtls,
            metricsFactory: NOOPMetricsHandler.instance,
            logger: Logger(label: "test")
        )
        return (gate, n1)
    }

    @Test("client requests lose internal headers but keep Qunbo-Route; internal routes need a signature")
    func clients() {
        let (gate, _) = Self.gate(TestClock())
        var r = Self.request(
            .POST,
            "/v1/groups/g/live",
            [
                ("Qunbo-Forwarded", "n9"), ("qunbo-primary", "x"), ("Qunbo-Route", "proxy"),
                ("Authorization", "Bearer t"),
            ]
        )
        #expect(gate.admit(&r) == nil)
        #expect(r.peer == nil)
        #expect(r.headers.first(name: "qunbo-forwarded") == nil && r.headers.first(name: "qunbo-primary") == nil)
        #expect(r.headers.first(name: "qunbo-route") == "proxy" && r.headers.first(name: "authorization") == "Bearer t")
        for path in ["/internal/v1/gossip", "/internal/v1/link", "/internal/v1/groups/g/live"] {
            var internalRequest = Self.request(.POST, path, [])
            #expect(gate.admit(&internalRequest)?.status == .unauthorized)
        }
    }

    @Test("a signed request keeps its headers and names its peer; a bad one is refused on any route")
    func peers() {
        let clock = TestClock()
        let (gate, n1) = Self.gate(clock)
        var r = Self.request(
            .POST,
            "/v1/groups/g/live",
            [("Qunbo-Forwarded", "n1"), (PeerAuth.header, n1.sign(method: .POST, uri: "/v1/groups/g/live"))]
        )
        #expect(gate.admit(&r) == nil)
        #expect(r.peer == "n1" && r.headers.first(name: "qunbo-forwarded") == "n1")
        // The same signature again: refused, even on a public route.
        var replay = r
        replay.peer = nil
        #expect(gate.admit(&replay)?.code == "peer_replayed")
        var wrongRoute = Self.request(
            .POST,
            "/internal/v1/gossip",
            [(PeerAuth.header, n1.sign(method: .POST, uri: "/v1/groups/g/live"))]
        )
        #expect(gate.admit(&wrongRoute)?.code == "peer_bad_signature")
    }

    @Test("with mutual TLS a valid signature still needs a verified client certificate")
    func mutualTLS() {
        let clock = TestClock()
        let (gate, n1) = Self.gate(clock, mtls: true)
        var r = Self.request(
            .POST,
            "/internal/v1/gossip",
            [(PeerAuth.header, n1.sign(method: .POST, uri: "/internal/v1/gossip"))]
        )
        #expect(gate.admit(&r)?.code == "peer_no_client_certificate")
        var certified = Self.request(
            .POST,
            "/internal/v1/gossip",
            [(PeerAuth.header, n1.sign(method: .POST, uri: "/internal/v1/gossip"))]
        )
        certified.clientCertificateVerified = true
        #expect(gate.admit(&certified) == nil && certified.peer == "n1")
    }
}
