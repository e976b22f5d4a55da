import Testing
@testable import ClarmIntegrations

/// Standard Webhooks signing against the specification's published example, ids, and the SSRF address test.
@Suite struct WebhookSignatureTests {
    @Test func signsTheSpecificationExample() {
        // From the Standard Webhooks reference libraries' tests.
        let signature = WebhookSignature.sign(secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
                                              timestamp: 1614265330, body: Array(#"{"test": 2432232314}"#.utf8))
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    @Test func aMessageIDDependsOnlyOnItsDestinationAndEvents() {
        let a = WebhookSignature.messageID(destination: "d1", keys: ["e-1", "e-2"])
        #expect(a == WebhookSignature.messageID(destination: "d1", keys: ["e-1", "e-2"]))
        #expect(a != WebhookSignature.messageID(destination: "d1", keys: ["e-1"]))
        #expect(a != WebhookSignature.messageID(destination: "d2", keys: ["e-1", "e-2"]))
        #expect(a != WebhookSignature.messageID(destination: "d1", keys: ["e-1e-2"]))
    }

    @Test func internalAddressesAreRecognised() {
        for (address, isPrivate) in [(0x7F00_0001 as UInt32, true), (0x0A01_0203, true), (0xAC1F_0001, true), (0xC0A8_0101, true),
                                    (0xA9FE_A9FE, true), (0x0808_0808, false), (0x6812_0001, false), (0xAC20_0001, false)] {
            #expect(DestinationAddress.isInternal(ipv4: address) == isPrivate)
        }
        #expect(DestinationAddress.isInternal(ipv6: [UInt8](repeating: 0, count: 15) + [1]))
        #expect(DestinationAddress.isInternal(ipv6: [0xFE, 0x80] + [UInt8](repeating: 0, count: 14)))
        #expect(DestinationAddress.isInternal(ipv6: [0xFD, 0x00] + [UInt8](repeating: 0, count: 14)))
        #expect(DestinationAddress.isInternal(ipv6: [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF, 127, 0, 0, 1]))
        #expect(!DestinationAddress.isInternal(ipv6: [0x20, 0x01, 0x48, 0x60] + [UInt8](repeating: 0, count: 11) + [0x88]))
        // IPv4 carried in IPv6: compatible ::10.0.0.1, NAT64 64:ff9b::192.168.1.1, 6to4 2002:7f00:0001::, site-local.
        #expect(DestinationAddress.isInternal(ipv6: [UInt8](repeating: 0, count: 12) + [10, 0, 0, 1]))
        #expect(DestinationAddress.isInternal(ipv6: [0x00, 0x64, 0xFF, 0x9B] + [UInt8](repeating: 0, count: 8) + [192, 168, 1, 1]))
        #expect(!DestinationAddress.isInternal(ipv6: [0x00, 0x64, 0xFF, 0x9B] + [UInt8](repeating: 0, count: 8) + [8, 8, 8, 8]))
        #expect(DestinationAddress.isInternal(ipv6: [0x20, 0x02, 127, 0, 0, 1] + [UInt8](repeating: 0, count: 10)))
        #expect(!DestinationAddress.isInternal(ipv6: [0x20, 0x02, 8, 8, 8, 8] + [UInt8](repeating: 0, count: 10)))
        #expect(DestinationAddress.isInternal(ipv6: [0xFE, 0xC0] + [UInt8](repeating: 0, count: 14)))
        #expect(throws: IntegrationError.self) { try DestinationAddress.check("http://127.0.0.1:9/x", allowPrivate: false) }
        #expect(throws: IntegrationError.self) { try DestinationAddress.check("http://localhost:9/x", allowPrivate: false) }
        #expect(throws: IntegrationError.self) { try DestinationAddress.check("ftp://example.com/x", allowPrivate: true) }
    }
}
