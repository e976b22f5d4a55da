import Foundation
import Testing
import ClarmEvents
import ClarmQuery
import ClarmTestSupport

/// `"attribution_scope": "person"` over HTTP: first-touch credit goes to the first visit of the visitor's person,
/// across devices and shards, checked against the reference before and after one device is erased.
@Suite struct PersonAttributionRouteTests {
    /// `PeopleRouteTests`' events, Ana's phone and laptop arriving from campaigns.
    static func events() -> [EventRecord] {
        PeopleRouteTests.events().map { event in
            var event = event
            if event.event == "page_view" && (event.visitorID == "phone" || event.visitorID == "laptop") {
                event.url += "?utm_source=\(event.visitorID)-ad"
            }
            return event
        }
    }

    static func metrics(_ answer: [String: Any], _ key: [String]) -> [Any]? {
        (answer["results"] as? [[String: Any]])?.first { $0["dimensions"] as? [String] == key }?["metrics"] as? [Any]
    }

    @Test func firstTouchCreditsThePersonsFirstVisitAcrossDevices() throws {
        let events = Self.events()
        let site = PeopleRouteTests.site
        try withGateway { port, _ in
            let client = try TestClient(port: port)
            for start in stride(from: 0, to: events.count, by: 200) {
                let batch = events[start..<min(events.count, start + 200)].map(QueryRouteTests.json).joined(separator: ",")
                #expect(try QueryRouteTests.post(client, "/api/track", "[\(batch)]").status == 202)
            }
            let metrics = #""metrics":["visitors","events","conversions","total_revenue"]"#
            func check(_ events: [EventRecord]) throws -> [String: [String: Any]] {
                var answers: [String: [String: Any]] = [:]
                for dimensions in [#"["visit:source"]"#, #"["visit:channel","event:name"]"#, #"["visit:entry_page"]"#] {
                    let text = #"{"site":"\#(site)","date_range":"all",\#(metrics),"dimensions":\#(dimensions),"attribution":"first_touch","attribution_scope":"person"}"#
                    let response = try QueryRouteTests.post(client, "/api/query", text)
                    #expect(response.status == 200, "\(response.text)")
                    let query = try Array(text.utf8).withUnsafeBytes { raw in try Query.parse(raw, now: 0) }
                    let expected = QueryReference.run(events, query)
                    let results = response.json["results"] as? [[String: Any]] ?? []
                    #expect(results.count == expected.count, "\(dimensions)")
                    for row in results {
                        let key = row["dimensions"] as! [String]
                        let values = row["metrics"] as! [Any]
                        guard let wanted = expected[key] else { Issue.record("unexpected group \(key)"); continue }
                        for (value, metric) in zip(values, wanted) {
                            switch metric {
                            case .count(let n): #expect(value as? Int == n, "\(dimensions) \(key)")
                            case .money(let sums):
                                let got = (value as? [String: NSNumber] ?? [:]).mapValues(\.doubleValue)
                                #expect(Set(got.keys) == Set(sums.keys), "\(dimensions) \(key)")
                                for (currency, sum) in sums { #expect(abs((got[currency] ?? .nan) - (sum * 100).rounded() / 100) < 1e-6) }
                            case .decimal: break
                            }
                        }
                    }
                    answers[dimensions] = response.json
                }
                return answers
            }
            let before = try check(events)
            // Ana's laptop and tablet purchases are credited to her phone's campaign, her first visit.
            let phone = Self.metrics(before[#"["visit:source"]"#] ?? [:], ["phone-ad"])
            #expect(phone?[2] as? Int == 2)
            #expect((phone?[3] as? [String: Double]) == ["EUR": 42.5])
            #expect(Self.metrics(before[#"["visit:source"]"#] ?? [:], ["laptop-ad"])?[2] as? Int == 0)

            #expect(try exchange(client, "DELETE", "/api/visitors/phone?site=\(site)").status == 200)
            let after = try check(events.filter { $0.visitorID != "phone" })
            let laptop = Self.metrics(after[#"["visit:source"]"#] ?? [:], ["laptop-ad"])
            #expect(laptop?[2] as? Int == 2, "the erased phone no longer counts; the laptop came first of the rest")
            #expect(Self.metrics(after[#"["visit:source"]"#] ?? [:], ["phone-ad"]) == nil)

            for body in [#""attribution":"last_touch","attribution_scope":"person""#, #""attribution_scope":"person""#,
                         #""attribution":"first_touch","attribution_scope":"household""#] {
                let response = try QueryRouteTests.post(client, "/api/query", #"{"site":"\#(site)",\#(metrics),\#(body)}"#)
                #expect(response.status == 400 && (response.json["error"] as? String)?.hasPrefix("attribution_scope: ") == true, "\(response.text)")
            }
        }
    }
}
