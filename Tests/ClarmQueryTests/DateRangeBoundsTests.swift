import Testing
@testable import ClarmQuery

/// Answers write instants as RFC 3339 with four-digit years, so a `date_range` end outside years 0000–9999
/// (UTC, after its offset or time zone) is refused with the field named, not written as `00-1-12-31T…`.
@Suite struct DateRangeBoundsTests {
    static let now: Int64 = 1_790_000_000_000

    static func problem(_ from: String, _ to: String, zone: String = "UTC") throws -> String? {
        let rules = try TimeZoneDatabase.system.rules(named: zone)
        do throws(QueryError) {
            _ = try Query.parseRange(.array([.string(from), .string(to)]), now: now, zone: rules)
            return nil
        } catch {
            return "\(error.field): \(error.problem)"
        }
    }

    @Test func endsOutsideYears0000To9999AreRefused() throws {
        let refused = "date_range: each end must fall in years 0000-9999 (UTC)"
        #expect(try Self.problem("0000-01-01T00:00:00+01:00", "2026-01-01") == refused)
        #expect(try Self.problem("2026-01-01", "9999-12-31T23:59:59-01:00") == refused)
        #expect(try Self.problem("0000-01-01", "2026-01-01", zone: "Europe/Berlin") == refused)
        #expect(try Self.problem("0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z") == nil)
        #expect(try Self.problem("0000-01-01", "9999-12-31", zone: "America/Los_Angeles") == nil)
    }
}
