import Foundation
import Testing
import ClarmEvents
import ClarmQuery
import ClarmTestSupport

/// `"comparisons"` in POST /api/query over HTTP, against `ComparisonReference`, on days around Berlin's clock changes.
@Suite struct QueryComparisonRouteTests {
    /// The generated events (which start 2026-11-01) moved to start on each of these days, with their own ids.
    static func events() -> [EventRecord] {
        let generated = generateEvents(seed: 41, visitors: 40)
        let start: Int64 = 1_793_491_200_000  // 2026-11-01T00:00:00Z
        var events: [EventRecord] = []
        for (copy, day) in ["2025-10-20", "2025-10-24", "2026-03-22", "2026-03-26", "2026-10-17", "2026-10-21", "2026-10-24"].enumerated() {
            let moved = Array("\(day)T00:00:00Z".utf8).withUnsafeBytes { Timestamp.parse($0)! }
            for var event in generated {
                event.timestamp += moved - start
                event.visitorID += "-\(copy)"
                if !event.sessionID.isEmpty { event.sessionID += "-\(copy)" }
                events.append(event)
            }
        }
        return events
    }

    @Test func earlierPeriodsMatchTheReferenceAcrossClockChanges() throws {
        let events = Self.events()
        try withGateway { port, _ in
            let client = try TestClient(port: port)
            for start in stride(from: 0, to: events.count, by: 200) {
                let batch = events[start..<min(events.count, start + 200)].map(QueryRouteTests.json).joined(separator: ",")
                #expect(try QueryRouteTests.post(client, "/api/track", "[\(batch)]").status == 202)
            }
            let metrics = #""metrics":["visitors","visits","pageviews","events","bounce_rate","visit_duration","conversions","conversion_rate","total_revenue"]"#
            let cases: [(range: String, dimensions: String, mode: Query.ComparisonMode)] = [
                (#"["2026-10-25","2026-10-27"]"#, #"["time:hour"]"#, .previousPeriod),   // a 25-hour day; before it, two 24-hour days
                (#"["2026-10-26","2026-10-29"]"#, #"["time:day","visit:device"]"#, .previousPeriod),
                (#"["2026-10-25T00:00:00Z","2026-10-26T12:00:00Z"]"#, #"[]"#, .previousPeriod),
                (#"["2026-10-22","2026-10-30"]"#, #"["time:day"]"#, .yearOverYear),    // 2026-10-25 and 2025-10-26 fall back
                (#"["2026-10-25","2026-10-26"]"#, #"["time:hour"]"#, .yearOverYear),
                (#"["2026-03-29","2026-04-02"]"#, #"["time:hour","event:name"]"#, .previousPeriod),  // a 23-hour day
                (#"["2026-10-19","2026-11-02"]"#, #"["time:week"]"#, .previousPeriod),
                (#"["2026-10-01","2026-12-01"]"#, #"["time:month"]"#, .yearOverYear),
            ]
            for item in cases {
                let text = #"{"site":"shop.example.com","timezone":"Europe/Berlin","date_range":\#(item.range),\#(metrics),"dimensions":\#(item.dimensions),"comparisons":{"mode":"\#(item.mode.rawValue)"}}"#
                let response = try QueryRouteTests.post(client, "/api/query", text)
                #expect(response.status == 200, "\(response.text)")
                let answer = response.json
                let query = try Array(text.utf8).withUnsafeBytes { raw in try Query.parse(raw, now: 0) }
                let expected = ComparisonReference.run(events, query, mode: item.mode)
                let meta = answer["meta"] as? [String: Any]
                #expect(meta?["comparison_date_range"] as? [String] == [Timestamp.format(expected.from), Timestamp.format(expected.to)], "\(item)")
                let results = answer["results"] as? [[String: Any]] ?? []
                #expect(results.count == expected.rows.count, "\(item)")
                var compared = 0
                for row in results {
                    let key = row["dimensions"] as! [String]
                    guard let comparison = row["comparison"] as? [String: Any], let wanted = expected.rows[key] else {
                        Issue.record("\(item): no comparison for \(key)")
                        continue
                    }
                    #expect(comparison["dimensions"] as? [String] == wanted.dimensions, "\(item) \(key)")
                    let values = comparison["metrics"] as? [Any] ?? []
                    for (value, metric) in zip(values, wanted.metrics) {
                        switch metric {
                        case .count(let n): #expect(value as? Int == n, "\(item) \(key)")
                        case .decimal(let d): #expect(abs(((value as? NSNumber)?.doubleValue ?? .nan) - d) < 1e-9, "\(item) \(key)")
                        case .money(let sums):
                            let got = (value as? [String: NSNumber] ?? [:]).mapValues(\.doubleValue)
                            #expect(Set(got.keys) == Set(sums.keys), "\(item) \(key)")
                        }
                    }
                    let change = comparison["change"] as? [Any] ?? []
                    #expect(change.count == wanted.change.count)
                    for (value, want) in zip(change, wanted.change) {
                        if let want { #expect(abs(((value as? NSNumber)?.doubleValue ?? .nan) - want) < 1e-9, "\(item) \(key)") }
                        else { #expect(value is NSNull, "\(item) \(key)") }
                    }
                    if case .count(let n) = wanted.metrics[3], n > 0 { compared += 1 }
                }
                #expect(compared > 0, "\(item): the earlier period has events to compare with")
            }
        }
    }

    @Test func theYearBeforeALeapDayAloneIsEmpty() throws {
        try withGateway { port, _ in
            let client = try TestClient(port: port)
            let response = try QueryRouteTests.post(client, "/api/query", #"{"site":"s.example.com","date_range":["2028-02-28","2028-02-29"],"metrics":["events","bounce_rate"],"comparisons":{"mode":"year_over_year"}}"#)
            #expect(response.status == 200, "\(response.text)")
            #expect((response.json["meta"] as? [String: Any])?["comparison_date_range"] as? [String] == ["2027-02-28T00:00:00.000Z", "2027-02-28T00:00:00.000Z"])
            let comparison = (response.json["results"] as? [[String: Any]])?.first?["comparison"] as? [String: Any]
            #expect(comparison?["metrics"] as? [Double] == [0, 0] && comparison?["change"] as? [Double] == [0, 0], "\(response.text)")
        }
    }

    @Test func badComparisonsAreRefusedNamingTheField() throws {
        try withGateway { port, _ in
            let client = try TestClient(port: port)
            for body in [#""comparisons":{"mode":"last_week"}"#, #""comparisons":"previous_period""#,
                         #""comparisons":{"mode":"previous_period","extra":1}"#,
                         #""date_range":"all","comparisons":{"mode":"previous_period"}"#,
                         #""date_range":["0000-01-01","0000-03-01"],"comparisons":{"mode":"year_over_year"}"#] {
                let response = try QueryRouteTests.post(client, "/api/query", #"{"site":"s.example.com","metrics":["events"],\#(body)}"#)
                #expect(response.status == 400, "\(body)")
                #expect((response.json["error"] as? String)?.hasPrefix("comparisons: ") == true, "\(body): \(response.text)")
            }
        }
    }
}
