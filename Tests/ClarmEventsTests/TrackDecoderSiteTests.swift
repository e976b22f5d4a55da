import Testing
@testable import ClarmEvents

/// The `site` rule (≤ 253 bytes) holds for the site taken from the URL's host as well as for a sent one.
/// Found by fuzz-track (Fuzz/Corpus/track/crash-site-from-long-host).
@Suite struct TrackDecoderSiteTests {
    @Test func siteFromAHostLongerThanTheLimitIsRejected() throws {
        let atLimit = String(repeating: "a", count: 253), overLimit = String(repeating: "b", count: 254)
        let decoded = decode("""
        [{"event":"e","visitor_id":"v","url":"https://\(atLimit)/p"},
         {"event":"e","visitor_id":"v","url":"https://\(overLimit):8080/p"},
         {"event":"e","visitor_id":"v","url":"https://\(overLimit)/p","site":"Shop.Example.com"}]
        """)
        #expect(decoded.records.map(\.site) == [atLimit, "shop.example.com"])
        #expect(decoded.rejections.map(\.0) == [1])
        #expect(decoded.rejections.map(\.1) == [.tooLong(.site)])
    }
}
