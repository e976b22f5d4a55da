import Foundation
import Glibc
import Testing
import ClarmGateway
import ClarmServer
import ClarmTestSupport

/// Per-address request limits, per-address connection caps, and the bounded address table, over real sockets.
@Suite struct RateLimitTests {
    static func health(_ client: TestClient, forwardedFor: String? = nil) throws -> TestResponse {
        try exchange(client, "GET", "/healthz", headers: forwardedFor.map { ["X-Forwarded-For: \($0)"] } ?? [])
    }

    @Test func answers429PastTheBurstAndRecoversAfterRefill() throws {
        let traffic = TrafficPolicy(requestsPerAddress: AddressRateLimiter(rate: 5, burst: 3))
        try withPolicyGateway(traffic: traffic) { port, _ in
            let client = try TestClient(port: port)
            for _ in 0..<3 { #expect(try Self.health(client, forwardedFor: "203.0.113.9").status == 200) }
            let limited = try Self.health(client, forwardedFor: "203.0.113.9")
            #expect(limited.status == 429)
            #expect(limited.header("retry-after") == "1")
            #expect(limited.header("content-type") == "application/json")
            #expect((limited.json["error"] as? String)?.contains("203.0.113.9") == true)
            // Another client is not affected.
            #expect(try Self.health(client, forwardedFor: "203.0.113.10").status == 200)
            // 5 a second: a token every 200 ms.
            usleep(300_000)
            #expect(try Self.health(client, forwardedFor: "203.0.113.9").status == 200)
            #expect(try Self.health(client, forwardedFor: "203.0.113.9").status == 429)
        }
    }

    @Test func loopbackWithoutForwardedForIsNotLimited() throws {
        let traffic = TrafficPolicy(requestsPerAddress: AddressRateLimiter(rate: 1, burst: 1))
        try withPolicyGateway(traffic: traffic) { port, _ in
            let client = try TestClient(port: port)
            for _ in 0..<20 { #expect(try Self.health(client).status == 200) }
            #expect(try exchange(client, "POST", "/api/track", body: oneEvent).status == 202)
        }
    }

    /// Over real sockets: spoofed entries left of the proxy's own are ignored; what the limiter names is the client.
    @Test func limitsTheForwardedClientNotTheSpoofedOne() throws {
        let traffic = TrafficPolicy(clients: ClientAddressRule(trustedProxies: [AddressRange("10.0.0.0/8")!]),
                                    requestsPerAddress: AddressRateLimiter(rate: 1, burst: 1))
        try withPolicyGateway(traffic: traffic) { port, _ in
            let client = try TestClient(port: port)
            #expect(try Self.health(client, forwardedFor: "1.1.1.1, 198.51.100.4, 10.0.0.9").status == 200)
            // A new left-most entry each time does not make a new client.
            let spoofed = try Self.health(client, forwardedFor: "2.2.2.2, 198.51.100.4, 10.0.0.9")
            #expect(spoofed.status == 429)
            #expect((spoofed.json["error"] as? String)?.contains("198.51.100.4") == true, "\(spoofed.text)")
            // Malformed: the peer (loopback, here forwarded, so limited as 127.0.0.1).
            #expect(try Self.health(client, forwardedFor: "nonsense").status == 200)
            let peer = try Self.health(client, forwardedFor: "nonsense")
            #expect((peer.json["error"] as? String)?.contains("127.0.0.1") == true, "\(peer.text)")
        }
    }

    /// From a peer that is not trusted, X-Forwarded-For is ignored: the peer itself is limited.
    @Test(.enabled(if: nonLoopbackAddress() != nil, "needs a non-loopback IPv4 address"))
    func untrustedPeerIsTheClient() throws {
        let local = nonLoopbackAddress()!
        let traffic = TrafficPolicy(requestsPerAddress: AddressRateLimiter(rate: 1, burst: 1))
        try withPolicyGateway(traffic: traffic, configure: { $0.host = "0.0.0.0" }) { port, _ in
            let client = try TestClient(port: port, address: local)
            #expect(try Self.health(client).status == 200)
            let second = try Self.health(client, forwardedFor: "203.0.113.50")
            #expect(second.status == 429)
            #expect((second.json["error"] as? String)?.contains(IPAddress(ipv4: local).description) == true, "\(second.text)")
        }
    }

    @Test func capsConnectionsPerAddress() throws {
        try withPolicyGateway(configure: {
            $0.maxConnectionsPerAddress = 3
            $0.uncappedPeers = []
        }) { port, _ in
            var clients = try (0..<3).map { _ in try TestClient(port: port) }
            for client in clients { #expect(try Self.health(client).status == 200) }
            let fourth = try TestClient(port: port)
            let refused = try #require(try fourth.readResponse())
            #expect(refused.status == 503)
            #expect(refused.text.contains("too many connections from this address"))
            #expect(try fourth.isClosedByServer())
            // A closed connection frees its place.
            clients[0].hangUp()
            clients.removeFirst()
            usleep(100_000)
            let fifth = try TestClient(port: port)
            #expect(try Self.health(fifth).status == 200)
        }
    }

    @Test func loopbackIsNotCappedByDefault() throws {
        try withPolicyGateway(configure: { $0.maxConnectionsPerAddress = 2 }) { port, _ in
            let clients = try (0..<4).map { _ in try TestClient(port: port) }
            for client in clients { #expect(try Self.health(client).status == 200) }
        }
    }

    /// Thousands of distinct clients through a trusted proxy: the table never holds more than its capacity,
    /// and recent clients are still limited.
    @Test func addressTableStaysWithinItsCapacity() throws {
        let limiter = AddressRateLimiter(rate: 1, burst: 1, capacity: 64, shards: 4)
        let traffic = TrafficPolicy(requestsPerAddress: limiter)
        try withPolicyGateway(traffic: traffic) { port, _ in
            let client = try TestClient(port: port)
            for i in 0..<2000 {
                let address = "198.18.\(i / 256).\(i % 256)"
                #expect(try Self.health(client, forwardedFor: address).status == 200)
                if i % 97 == 0 { #expect(limiter.addressCount <= 64) }
            }
            #expect(limiter.addressCount <= 64)
            #expect(limiter.addressCount >= 60)
            #expect(try Self.health(client, forwardedFor: "198.18.7.207").status == 429)
        }
    }
}
