import Foundation
import Testing
import ClarmEvents
import ClarmQuery
import ClarmTestSupport

/// The translation of Plausible's requests: ranges against Foundation's calendar, and bytes that never crash it.
@Suite struct PlausibleQueryTests {
    static let now: Int64 = 1_795_953_600_000  // 2026-11-29T10:00:00Z, a Sunday

    static func parse(_ text: String, now: Int64 = now) throws(QueryError) -> PlausibleQuery {
        let result = Array(text.utf8).withUnsafeBytes { raw in
            Result { () throws(QueryError) in try PlausibleQuery.parse(raw, now: now) }
        }
        return try result.get()
    }

    /// The instant a local date starts in `zone`, from Foundation.
    static func midnight(_ year: Int, _ month: Int, _ day: Int, _ zone: String) -> Int64 {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: zone)!
        let date = calendar.date(from: DateComponents(year: year, month: month, day: day))!
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    @Test(arguments: ["UTC", "Europe/Berlin", "America/Los_Angeles", "Australia/Sydney"])
    func namedRangesEndWithToday(_ zone: String) throws {
        let expected: [(String, Int64)] = [
            ("day", Self.midnight(2026, 11, 29, zone)), ("7d", Self.midnight(2026, 11, 23, zone)),
            ("28d", Self.midnight(2026, 11, 2, zone)), ("30d", Self.midnight(2026, 10, 31, zone)),
            ("91d", Self.midnight(2026, 8, 31, zone)), ("month", Self.midnight(2026, 11, 1, zone)),
            ("6mo", Self.midnight(2026, 6, 1, zone)), ("12mo", Self.midnight(2025, 12, 1, zone)),
            ("year", Self.midnight(2026, 1, 1, zone)),
        ]
        for (name, from) in expected {
            let query = try Self.parse(#"{"site_id":"s","metrics":["visitors"],"date_range":"\#(name)","timezone":"\#(zone)"}"#).query
            #expect(query.from == from, "\(name) in \(zone)")
            #expect(query.to == Self.midnight(2026, 11, 30, zone), "\(name) in \(zone)")
        }
    }

    @Test func explicitEndsAreIncluded() throws {
        let dates = try Self.parse(#"{"site_id":"s","metrics":["visitors"],"date_range":["2026-03-01","2026-03-31"],"timezone":"Europe/Berlin"}"#).query
        #expect(dates.from == Self.midnight(2026, 3, 1, "Europe/Berlin") && dates.to == Self.midnight(2026, 4, 1, "Europe/Berlin"))
        let instants = try Self.parse(#"{"site_id":"s","metrics":["visitors"],"date_range":["2026-11-01T12:00:00+02:00","2026-11-01T15:59:59+02:00"]}"#).query
        #expect(instants.from == 1_793_527_200_000 && instants.to == 1_793_541_600_000, "to 16:00:00+02:00, exclusive")
    }

    @Test func timePicksItsBucketFromTheRange() throws {
        for (range, bucket) in [(#""day""#, "hour"), (#""7d""#, "day"), (#""30d""#, "day"), (#""91d""#, "week"), (#""12mo""#, "month"), (#""all""#, "month")] {
            let parsed = try Self.parse(#"{"site_id":"s","metrics":["visitors"],"date_range":\#(range),"dimensions":["event:name","time"]}"#)
            #expect(parsed.time?.bucket.rawValue == bucket && parsed.time?.index == 1, "\(range)")
        }
    }

    /// Every prefix and single-byte change of valid requests parses or is refused with a QueryError; none crashes.
    @Test func damagedRequestsAreRefusedNotCrashed() throws {
        let bodies = [
            #"{"site_id":"s","metrics":["visitors","views_per_visit"],"date_range":["2026-11-01","2026-11-07"],"dimensions":["time","event:props:a"],"filters":[["or",[["matches","event:page",["^/(a|b)*$"]],["not",["is","visit:source",["x"]]]]]],"order_by":[["visitors","desc"]],"include":{"time_labels":true,"total_rows":true},"pagination":{"limit":5,"offset":1}}"#,
            #"{"site_id":"s","metrics":["events"],"date_range":"day","dimensions":["time:hour"],"include":{"time_labels":true},"filters":[["contains","event:props:k",["v"],{"case_sensitive":true}]]}"#,
        ]
        var random = SplitMix64(seed: 5)
        let replacements = Array(#"[]{}",:0123456789-+TZ aeiostx\"#.utf8)
        var parsed = 0, refused = 0
        for body in bodies {
            let bytes = Array(body.utf8)
            var variants = (0..<bytes.count).map { Array(bytes[..<$0]) }
            for _ in 0..<1500 {
                var changed = bytes
                changed[Int(random.next() % UInt64(bytes.count))] = replacements[Int(random.next() % UInt64(replacements.count))]
                variants.append(changed)
            }
            for variant in variants {
                do throws(QueryError) {
                    let query = try Self.parse(String(decoding: variant, as: UTF8.self))
                    try query.query.checkLimits()
                    parsed += 1
                } catch {
                    #expect(!error.description.isEmpty)
                    refused += 1
                }
            }
        }
        #expect(parsed > 0 && refused > 0)
    }
}
