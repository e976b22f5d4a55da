import Testing
@testable import ClarmEvents

func parseTime(_ text: String) -> Int64? {
    Array(text.utf8).withUnsafeBytes { Timestamp.parse($0) }
}

@Suite struct TimestampTests {
    static let valid: [(String, Int64)] = [
        ("1970-01-01T00:00:00Z", 0),
        ("1970-01-01T00:00:00.001Z", 1),
        ("2026-11-05T08:19:19.685Z", 1_793_866_759_685),
        ("2026-11-05T08:19:19Z", 1_793_866_759_000),
        ("2026-11-05t08:19:19.685z", 1_793_866_759_685),
        ("2026-11-05T08:19:19.6855999Z", 1_793_866_759_685),
        ("2026-11-05T08:19:19.6Z", 1_793_866_759_600),
        ("2026-11-05T09:19:19.685+01:00", 1_793_866_759_685),
        ("2026-11-05T03:49:19.685-04:30", 1_793_866_759_685),
        ("2024-02-29T00:00:00Z", 1_709_164_800_000),
        ("2000-02-29T12:00:00Z", 951_825_600_000),
        ("1969-12-31T23:59:59.999Z", -1),
        ("2016-12-31T23:59:60Z", 1_483_228_799_999),
    ]

    @Test(arguments: valid)
    func parses(_ text: String, _ millis: Int64) {
        #expect(parseTime(text) == millis)
    }

    static let invalid = [
        "", "2026-11-05", "2026-11-05T08:19Z", "2026-11-05T08:19:19", "2026-11-05 08:19:19Z", "2026-13-05T08:19:19Z",
        "2026-00-05T08:19:19Z", "2026-02-29T08:19:19Z", "1900-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-11-05T24:00:00Z",
        "2026-11-05T08:60:00Z", "2026-11-05T08:19:61Z", "2026-11-05T08:19:19.Z", "2026-11-05T08:19:19.1234567891Z",
        "2026-11-05T08:19:19+0100", "2026-11-05T08:19:19+24:00", "2026-11-05T08:19:19Zjunk", "26-11-05T08:19:19Z",
        "2026-1-05T08:19:19Z", "２026-11-05T08:19:19Z", "1762330759685",
    ]

    @Test(arguments: invalid)
    func rejects(_ text: String) {
        #expect(parseTime(text) == nil)
    }

    @Test func formatsAndRoundTrips() {
        #expect(Timestamp.format(1_793_866_759_685) == "2026-11-05T08:19:19.685Z")
        #expect(Timestamp.format(0) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.format(-1) == "1969-12-31T23:59:59.999Z")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let millis = Int64.random(in: -2_000_000_000_000...4_000_000_000_000, using: &generator)
            #expect(parseTime(Timestamp.format(millis)) == millis)
        }
    }

    @Test func civilDaysRoundTrip() {
        for days in stride(from: -800_000, through: 800_000, by: 997) {
            let (y, m, d) = Timestamp.civilFromDays(days)
            #expect(Timestamp.daysFromCivil(year: y, month: m, day: d) == days)
        }
    }
}

@Suite struct URLHostTests {
    static let cases: [(String, String?)] = [
        ("https://shop.example.com/p?x=1", "shop.example.com"),
        ("http://Shop.Example.com", "Shop.Example.com"),
        ("https://shop.example.com:8443/p", "shop.example.com"),
        ("https://user:pw@shop.example.com/p", "shop.example.com"),
        ("https://[2001:db8::1]:8080/p", "[2001:db8::1]"),
        ("https://example.com?q", "example.com"),
        ("https://example.com#f", "example.com"),
        ("/relative/path", nil),
        ("example.com/p", nil),
        ("https:///p", nil),
        ("https://:80/p", nil),
        ("", nil),
        ("1http://x.com", nil),
    ]

    @Test(arguments: cases)
    func findsHost(_ url: String, _ host: String?) {
        let bytes = Array(url.utf8)
        let found = bytes.withUnsafeBytes { URLHost.find(in: $0) }
        #expect(found.map { String(decoding: bytes[$0], as: UTF8.self) } == host)
    }
}
