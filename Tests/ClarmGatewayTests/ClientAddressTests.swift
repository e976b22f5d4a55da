import Foundation
import Testing
import ClarmGateway
import ClarmHTTP
import ClarmServer

/// Addresses, CIDR blocks, and which X-Forwarded-For entry is the client.
@Suite struct ClientAddressTests {
    @Test func parsesAddressesStrictly() {
        #expect(IPAddress("203.0.113.7")?.description == "203.0.113.7")
        #expect(IPAddress("2001:db8::1")?.description == "2001:db8::1")
        #expect(IPAddress("::ffff:10.1.2.3") == IPAddress("10.1.2.3"))
        #expect(IPAddress("127.0.0.1")?.isLoopback == true)
        #expect(IPAddress("::1")?.isLoopback == true)
        #expect(IPAddress("10.0.0.1")?.isLoopback == false)
        for bad in ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4:80", "[::1]", "fe80::1%eth0", "unknown", " 1.2.3.4",
                    String(repeating: "1", count: 100), "01.2.3.4x"] {
            #expect(IPAddress(bad) == nil, "\(bad)")
        }
    }

    @Test func matchesCIDRBlocks() throws {
        let v4 = try #require(AddressRange("10.0.0.0/8"))
        #expect(v4.contains(IPAddress("10.200.3.4")!))
        #expect(!v4.contains(IPAddress("11.0.0.1")!))
        #expect(!v4.contains(IPAddress("2001:db8::1")!))
        let v6 = try #require(AddressRange("2001:db8::/32"))
        #expect(v6.contains(IPAddress("2001:db8:ffff::9")!))
        #expect(!v6.contains(IPAddress("2001:db9::1")!))
        #expect(try #require(AddressRange("0.0.0.0/0")).contains(IPAddress("8.8.8.8")!))
        #expect(try #require(AddressRange("192.0.2.77")).contains(IPAddress("192.0.2.77")!))
        #expect(!(try #require(AddressRange("192.0.2.77"))).contains(IPAddress("192.0.2.78")!))
        #expect(try #require(AddressRange("2001:db8::1:0/112")).contains(IPAddress("2001:db8::1:ffff")!))
        #expect(AddressRange("10.0.0.0/8")?.description == "10.0.0.0/8")
        for bad in ["10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8", "/8", "10.0.0.0/", "::/129", "x/8", "10.0.0.0/8/8"] {
            #expect(AddressRange(bad) == nil, "\(bad)")
        }
    }

    /// A request as the parser makes it, from `peer`, with the given header lines.
    static func client(_ rule: ClientAddressRule, peer: String, _ headers: [String]) -> String {
        let text = Array(("GET / HTTP/1.1\r\nHost: t\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n").utf8)
        var parser = HTTPRequestParser(limits: HTTPLimits())
        return text.withUnsafeBytes { bytes in
            guard case .complete(let length) = parser.parse(bytes) else { return "unparsed" }
            let request = HTTPRequest(head: parser.head, bytes: UnsafeRawBufferPointer(rebasing: bytes[0..<length]),
                                      body: UnsafeRawBufferPointer(start: nil, count: 0), peer: IPAddress(peer)!)
            return rule.client(of: request).address.description
        }
    }

    @Test func followsForwardedForOnlyFromTrustedProxies() {
        let rule = ClientAddressRule(trustedProxies: [AddressRange("10.0.0.0/8")!])
        // An untrusted peer's header is its own claim: ignored.
        #expect(Self.client(rule, peer: "198.51.100.1", ["X-Forwarded-For: 203.0.113.5"]) == "198.51.100.1")
        // A trusted peer: the right-most entry that is not a trusted proxy; left entries are the client's to forge.
        #expect(Self.client(rule, peer: "10.0.0.2", ["X-Forwarded-For: 1.1.1.1, 203.0.113.5"]) == "203.0.113.5")
        #expect(Self.client(rule, peer: "10.0.0.2", ["X-Forwarded-For: 1.1.1.1, 203.0.113.5, 10.9.9.9"]) == "203.0.113.5")
        #expect(Self.client(rule, peer: "127.0.0.1", ["X-Forwarded-For: 203.0.113.5,10.1.1.1 , 127.0.0.1"]) == "203.0.113.5")
        // Several headers are one list, in order.
        #expect(Self.client(rule, peer: "10.0.0.2", ["X-Forwarded-For: 1.1.1.1", "x-forwarded-for: 203.0.113.6"]) == "203.0.113.6")
        #expect(Self.client(rule, peer: "10.0.0.2", ["X-Forwarded-For: 203.0.113.6", "X-Forwarded-For: 10.1.1.1"]) == "203.0.113.6")
        // IPv6 clients.
        #expect(Self.client(rule, peer: "10.0.0.2", ["X-Forwarded-For: 2001:db8::7"]) == "2001:db8::7")
        // Only trusted proxies: the request began inside; the left-most is where.
        #expect(Self.client(rule, peer: "10.0.0.2", ["X-Forwarded-For: 10.3.3.3, 10.4.4.4"]) == "10.3.3.3")
        // Malformed where it is read: the peer. Malformed left of the client entry does not matter.
        #expect(Self.client(rule, peer: "10.0.0.2", ["X-Forwarded-For: 1.1.1.1, garbage"]) == "10.0.0.2")
        #expect(Self.client(rule, peer: "10.0.0.2", ["X-Forwarded-For: 1.2.3.4:5678"]) == "10.0.0.2")
        #expect(Self.client(rule, peer: "10.0.0.2", ["X-Forwarded-For: garbage, 203.0.113.5"]) == "203.0.113.5")
        // Empty entries are skipped; no header at all: the peer.
        #expect(Self.client(rule, peer: "10.0.0.2", ["X-Forwarded-For: 203.0.113.5,, ,"]) == "203.0.113.5")
        #expect(Self.client(rule, peer: "10.0.0.2", []) == "10.0.0.2")
        #expect(Self.client(rule, peer: "10.0.0.2", ["X-Forwarded-For:"]) == "10.0.0.2")
    }

    /// A header of many thousands of entries costs one pass (no quadratic work) and is answered.
    @Test func longForwardedForIsLinear() {
        let rule = ClientAddressRule()
        let entries = Array(repeating: "127.0.0.1", count: 1500).joined(separator: ",")
        let started = Date()
        #expect(Self.client(rule, peer: "127.0.0.1", ["X-Forwarded-For: " + entries]) == "127.0.0.1")
        #expect(Date().timeIntervalSince(started) < 1)
    }
}

/// Per-client limits count an IPv6 client by its /64, so walking through the addresses of one prefix gains nothing.
@Suite struct IPv6ClientLimitTests {
    @Test func oneSlash64IsOneClient() throws {
        let limiter = AddressRateLimiter(rate: 1, burst: 2)
        let now: Int64 = 1_000_000
        #expect(limiter.take(IPAddress("2001:db8:1:2::1")!, now: now) == nil)
        #expect(limiter.take(IPAddress("2001:db8:1:2::ffff:1")!, now: now) == nil)
        #expect(limiter.take(IPAddress("2001:db8:1:2:abcd::9")!, now: now) != nil, "the third request of one /64 is limited")
        #expect(limiter.take(IPAddress("2001:db8:1:3::1")!, now: now) == nil, "another /64 is another client")
        #expect(limiter.addressCount == 2)
        // IPv4 addresses stay whole.
        #expect(limiter.take(IPAddress("192.0.2.1")!, now: now) == nil)
        #expect(limiter.take(IPAddress("192.0.2.2")!, now: now) == nil)
        #expect(limiter.take(IPAddress("192.0.2.2")!, now: now) == nil)
        #expect(limiter.take(IPAddress("192.0.2.2")!, now: now) != nil)
    }
}
