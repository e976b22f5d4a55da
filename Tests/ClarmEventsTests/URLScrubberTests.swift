import Testing
@testable import ClarmEvents

/// Keeps the entries it was given for every site.
final class FixedKeeps: KeptParameterLookup {
    let kept: SensitiveParameters
    init(_ kept: SensitiveParameters) { self.kept = kept }
    func keptParameters(site: UnsafeRawBufferPointer) -> SensitiveParameters { kept }
}

/// The `url` and `referrer` the decoder stores for an event that sends `url` (no `"` or `\`) as both.
func storedURLs(_ url: String, keeping kept: SensitiveParameters = []) -> (url: String, referrer: String) {
    var decoder = TrackDecoder()
    var batch = TrackBatch()
    let body = Array(#"{"event":"e","visitor_id":"v","site":"s","url":"\#(url)","referrer":"\#(url)","properties":{"a":1}}"#.utf8)
    let lookup = FixedKeeps(kept)
    body.withUnsafeBytes { raw in
        let context = TrackRequestContext(receivedAt: received, userAgent: UnsafeRawBufferPointer(start: nil, count: 0), keptParameters: lookup)
        try! decoder.decode(raw, context: context, into: &batch)
    }
    let record = try! batch.records.withUnsafeBytes { try EventRecord.decodeAll($0) }.first!
    #expect(record.properties == #"{"a":1}"# && record.site == "s" && record.userAgent.isEmpty)
    return (record.url, record.referrer)
}

@Suite struct URLScrubberTests {
    @Test(arguments: [
        // Nothing to remove: byte for byte as sent.
        ("https://a.com/p", "https://a.com/p"),
        ("https://a.com/p?", "https://a.com/p?"),
        ("https://a.com/p?x=1&&y=%zz&keyboard=1&monkey=2&tokenizer=3&token_type=bearer#top", "https://a.com/p?x=1&&y=%zz&keyboard=1&monkey=2&tokenizer=3&token_type=bearer#top"),
        ("https://a.com/p#email", "https://a.com/p#email"),
        ("/relative?q=shoes", "/relative?q=shoes"),
        // Names in any case, separators, percent-encoded, patterns.
        ("https://a.com/p?email=a%40b.c&x=1", "https://a.com/p?x=1"),
        ("https://a.com/p?x=1&EMAIL=a&y=2", "https://a.com/p?x=1&y=2"),
        ("https://a.com/p?x=1&%65mail=a", "https://a.com/p?x=1"),
        ("https://a.com/p?x=1&%45%4D%41%49%4C=a", "https://a.com/p?x=1"),
        ("https://a.com/p?e-mail=a&Access-Token=t&apiKey=k&user[email]=u&csrf_token=c&q=1", "https://a.com/p?q=1"),
        ("https://a.com/p?X-Amz-Credential=c&X-Amz-Signature=s&v=2", "https://a.com/p?v=2"),
        ("https://a.com/p?password=&key&code=abc&state=xyz", "https://a.com/p?state=xyz"),
        // Repeated names; everything removed takes its `?` along, the fragment stays.
        ("https://a.com/p?token=1&token=2&token=3#sec", "https://a.com/p#sec"),
        ("https://a.com/p?token=1&&x=2", "https://a.com/p?&x=2"),
        // Fragments that read as a query (OAuth implicit flow, hash routers).
        ("https://a.com/cb#access_token=t&token_type=bearer&expires_in=3600", "https://a.com/cb#token_type=bearer&expires_in=3600"),
        ("https://a.com/cb#access_token=t", "https://a.com/cb"),
        ("https://a.com/#/login?id_token=t&next=%2Fhome", "https://a.com/#/login?next=%2Fhome"),
        ("https://a.com/#/login?id_token=t", "https://a.com/#/login"),
        ("https://a.com/p?sid=1#session=2&x", "https://a.com/p#x"),
        // Malformed percent-encoding is compared as written.
        ("https://a.com/p?%6=1&%zzmail=2&email%=3&%", "https://a.com/p?%6=1&%zzmail=2&email%=3&%"),
    ])
    func removesSensitiveParameters(_ sent: String, _ stored: String) {
        let urls = storedURLs(sent)
        #expect(urls.url == stored)
        #expect(urls.referrer == stored)
    }

    @Test func aSiteKeepsTheEntriesItNames() throws {
        let kept = try #require(SensitiveParameters.entry("code")).union(try #require(SensitiveParameters.entry("*TOKEN")))
        #expect(storedURLs("https://a.com/p?code=SPRING&access_token=t&email=e", keeping: kept).url == "https://a.com/p?code=SPRING&access_token=t")
        #expect(storedURLs("https://a.com/p?code=1&email=e", keeping: .all).url == "https://a.com/p?code=1&email=e")
        #expect(SensitiveParameters.entry("access_token") == nil, "keep lists name entries as listed")
    }

    @Test func theListFitsTheMatcher() {
        #expect(SensitiveParameters.names.count <= 64)
        #expect(SensitiveParameters.patterns.allSatisfy { $0.bytes.count <= 16 && !$0.bytes.isEmpty })
        #expect(Set(SensitiveParameters.names).count == SensitiveParameters.names.count)
    }

    @Test func longURLsAreScrubbedWhole() {
        // 500 pairs, every other one sensitive: the other half stays, in order.
        let url = "https://a.com/?" + (0..<500).map { $0 % 2 == 0 ? "password=\($0)" : "p=\($0)" }.joined(separator: "&")
        let expected = "https://a.com/?" + (0..<500).filter { $0 % 2 == 1 }.map { "p=\($0)" }.joined(separator: "&")
        #expect(storedURLs(url).url == expected)
    }
}
