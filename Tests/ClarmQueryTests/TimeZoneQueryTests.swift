import Foundation
import Testing
import ClarmEvents
import ClarmStorage
import ClarmTestSupport
@testable import ClarmQuery

/// Queries in local time, against the reference's Foundation calendar, on days that cross DST in both hemispheres.
@Suite struct TimeZoneQueryTests {
    static let zones = ["Europe/Berlin", "America/Los_Angeles", "Australia/Sydney", "Asia/Kolkata", "America/Santiago", "UTC"]

    /// An event every 20 minutes (visitors in turn) over the days around 2026's DST changes: Sydney on April 5
    /// and October 4, Berlin on March 29 and October 25, Los Angeles on March 8 and November 1, Santiago on
    /// April 5 and September 6.
    static let events: [EventRecord] = {
        let windows: [(String, String)] = [("2026-03-07", "2026-03-10"), ("2026-03-28", "2026-03-31"), ("2026-04-03", "2026-04-07"),
                                           ("2026-09-05", "2026-09-08"), ("2026-10-03", "2026-10-06"), ("2026-10-24", "2026-10-27"),
                                           ("2026-10-31", "2026-11-03")]
        var events: [EventRecord] = []
        for (from, to) in windows {
            let start = try! parse(#"{"site":"x","metrics":["events"],"date_range":["\#(from)","\#(to)"]}"#)
            for (i, t) in stride(from: start.from, to: start.to, by: 1_200_000).enumerated() {
                events.append(EventRecord(timestamp: t, receivedAt: 0, event: i % 7 == 0 ? "purchase" : "page_view",
                                          visitorID: "v\(i % 37)", sessionID: "s\(i % 37)", url: "https://shop.example.com/p\(i % 5)",
                                          referrer: "", userAgent: "", properties: "", site: "shop.example.com"))
            }
        }
        return events
    }()

    @Test func bucketsMatchTheReferenceInEveryZone() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try makeStore(Self.events, directory: directory)
        defer { store.close() }
        let engine = QueryEngine(store: store)
        for zone in Self.zones {
            for dimensions in [#"["time:hour"]"#, #"["time:day"]"#, #"["time:week"]"#, #"["time:month"]"#, #"["time:day","event:page"]"#] {
                for range in [#""all""#, #"["2026-10-25","2026-11-02T12:00:00Z"]"#] {
                    let text = #"{"site":"shop.example.com","timezone":"\#(zone)","date_range":\#(range),"metrics":["visitors","events","conversions"],"dimensions":\#(dimensions),"limit":10000}"#
                    let query = try parse(text)
                    let result = try engine.run(query)
                    let expected = QueryReference.run(Self.events, query)
                    var actual: [[String]: [MetricValue]] = [:]
                    for row in result.rows { actual[row.dimensions] = row.metrics }
                    #expect(actual == expected, "\(text)")
                }
            }
        }
    }

    @Test func dstDaysHaveTheirHours() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try makeStore(Self.events, directory: directory)
        defer { store.close() }
        let engine = QueryEngine(store: store)
        func hours(_ zone: String, _ day: String, _ next: String) throws -> [String] {
            try engine.run(try parse(#"{"site":"shop.example.com","timezone":"\#(zone)","date_range":["\#(day)","\#(next)"],"metrics":["events"],"dimensions":["time:hour"]}"#))
                .rows.map { $0.dimensions[0] }
        }
        let fallBack = try hours("Europe/Berlin", "2026-10-25", "2026-10-26")
        #expect(fallBack.count == 25)
        #expect(fallBack[2...3] == ["2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00"], "the repeated hour, in order")
        let springForward = try hours("Europe/Berlin", "2026-03-29", "2026-03-30")
        #expect(springForward.count == 23 && springForward[2] == "2026-03-29T03:00:00+02:00")
        #expect(try hours("Australia/Sydney", "2026-04-05", "2026-04-06").count == 25)
        #expect(try hours("Australia/Sydney", "2026-10-04", "2026-10-05").count == 23)
        #expect(try hours("America/Los_Angeles", "2026-11-01", "2026-11-02").count == 25)
        let kolkata = try hours("Asia/Kolkata", "2026-10-25", "2026-10-26")
        #expect(kolkata.count == 24 && kolkata[0] == "2026-10-25T00:00:00+05:30")
        // Santiago's clocks skip from 00:00 to 01:00 on 2026-09-06: that day starts at 01:00.
        #expect(try hours("America/Santiago", "2026-09-06", "2026-09-07").first == "2026-09-06T01:00:00-03:00")
    }

    /// Relative ranges and dates against Foundation's `Calendar.startOfDay` in the zone.
    @Test(arguments: zones)
    func rangesFollowLocalMidnight(zone: String) throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: zone)!
        let rules = try TimeZoneDatabase.system.rules(named: zone)
        func ms(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
        // Through every day of 2026, at an hour that moves around the clock.
        for day in 0..<365 {
            let now: Int64 = 1_767_225_600_000 + Int64(day) * 86_400_000 + Int64(day * 7 % 24) * 3_600_000 + 1_234
            let date = Date(timeIntervalSince1970: Double(now) / 1000)
            let today = calendar.startOfDay(for: date)
            let tomorrow = calendar.date(byAdding: .day, value: 1, to: today)!
            let end = calendar.startOfDay(for: calendar.date(byAdding: .hour, value: 30, to: today)!)
            #expect(ms(end) == ms(calendar.startOfDay(for: tomorrow)))
            let expectations: [(String, Date)] = [
                ("day", today),
                ("7d", calendar.startOfDay(for: calendar.date(byAdding: .day, value: -6, to: today)!)),
                ("30d", calendar.startOfDay(for: calendar.date(byAdding: .day, value: -29, to: today)!)),
                ("month", calendar.dateInterval(of: .month, for: date)!.start),
            ]
            for (name, start) in expectations {
                let range = try Query.parseRange(.string(name), now: now, zone: rules)
                #expect(range == (ms(start), ms(end)), "\(zone) \(name) at \(now)")
            }
            let formatter = DateFormatter()
            formatter.dateFormat = "yyyy-MM-dd"
            formatter.timeZone = calendar.timeZone
            formatter.locale = Locale(identifier: "en_US_POSIX")
            let text = formatter.string(from: date)
            #expect(Query.instant(text, zone: rules) == ms(today), "\(zone) \(text)")
        }
    }

    @Test func theZoneComesFromTheQueryElseTheSite() throws {
        func zone(_ json: String, site: String?) throws(QueryError) -> String {
            let result = Array(json.utf8).withUnsafeBytes { raw in
                Result { () throws(QueryError) in try Query.parse(raw, now: 0, siteTimezone: { _ in site }) }
            }
            return try result.get().timezone.name
        }
        #expect(try zone(#"{"site":"a.com","metrics":["events"]}"#, site: nil) == "UTC")
        #expect(try zone(#"{"site":"a.com","metrics":["events"]}"#, site: "Asia/Kolkata") == "Asia/Kolkata")
        #expect(try zone(#"{"site":"a.com","metrics":["events"],"timezone":"America/Los_Angeles"}"#, site: "Asia/Kolkata") == "America/Los_Angeles")
        for bad in [#""Mars/Olympus""#, #""../../etc/passwd""#, "5", #""right/Europe/Berlin""#] {
            #expect { try zone(#"{"site":"a.com","metrics":["events"],"timezone":\#(bad)}"#, site: nil) } throws: {
                ($0 as? QueryError)?.field == "timezone"
            }
        }
    }
}
