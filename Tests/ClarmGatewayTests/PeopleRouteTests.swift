import Foundation
import Testing
import ClarmEvents
import ClarmTestSupport

/// GET /api/people and /api/people/{email} over HTTP, against `PeopleReference`.
@Suite struct PeopleRouteTests {
    static let site = "shop.example.com"

    /// Generated traffic, plus three devices of one person (one identifying in other case and with spaces)
    /// and visitors of the generated set re-identifying under shared emails.
    static func events() -> [EventRecord] {
        var events = generateEvents(seed: 5, visitors: 80)
        let base: Int64 = 1_793_534_400_000  // 2026-11-01T12:00:00Z
        func event(_ name: String, _ visitor: String, _ minutes: Int64, _ properties: String = "") -> EventRecord {
            EventRecord(timestamp: base + minutes * 60_000, receivedAt: 0, event: name, visitorID: visitor, sessionID: "\(visitor)-s",
                        eventID: "", url: "https://shop.example.com/", referrer: "", userAgent: "", properties: properties, site: site)
        }
        events += [
            event("page_view", "phone", 0), event("identify", "phone", 1, #"{"email":"Ana@Example.com","device":"phone"}"#),
            event("page_view", "laptop", 2), event("identify", "laptop", 3, #"{"email":"  ana@example.COM\t","device":"laptop"}"#),
            event("purchase", "laptop", 4, #"{"amount":30,"currency":"EUR"}"#),
            event("page_view", "tablet", 5), event("identify", "tablet", 6, #"{"email":"ana@example.com","device":"tablet"}"#),
            event("purchase", "tablet", 7, #"{"amount":12.5,"currency":"EUR"}"#),
        ]
        for v in stride(from: 0, to: 80, by: 9) {
            events.append(EventRecord(timestamp: base + 10 * 86_400_000 + Int64(v), receivedAt: 0, event: "identify", visitorID: "visitor-\(v)",
                                      sessionID: "", eventID: "", url: "https://shop.example.com/", referrer: "", userAgent: "",
                                      properties: #"{"email":"shared\#(v % 2)@example.com"}"#, site: site))
        }
        return events
    }

    @Test func peopleAndTheirTimelinesMatchTheReferenceWithAnErasedDevice() throws {
        let events = Self.events()
        try withGateway { port, _ in
            let client = try TestClient(port: port)
            for start in stride(from: 0, to: events.count, by: 200) {
                let batch = events[start..<min(events.count, start + 200)].map(QueryRouteTests.json).joined(separator: ",")
                #expect(try QueryRouteTests.post(client, "/api/track", "[\(batch)]").status == 202)
            }
            func check(erased: Set<String>) throws {
                let (list, json) = try VisitorRouteTests.get(client, "/api/people?site=\(Self.site)&date_range=all&limit=1000")
                #expect(list.status == 200, "\(list.text)")
                let people = json?["people"] as? [[String: Any]] ?? []
                let expected = PeopleReference.people(events, site: Self.site, from: .min, to: .max, erased: erased)
                #expect((json?["meta"] as? [String: Any])?["total"] as? Int == expected.count)
                #expect(Set(people.compactMap { $0["email"] as? String }) == Set(expected.keys))
                for person in people {
                    let email = person["email"] as? String ?? ""
                    guard let wanted = expected[email] else { continue }
                    let devices = (person["devices"] as? [[String: Any]] ?? []).map {
                        PeopleReference.Device(visitorID: $0["visitor_id"] as? String ?? "",
                                               firstSeen: Self.instant($0["first_seen"]), lastSeen: Self.instant($0["last_seen"]),
                                               events: $0["events"] as? Int ?? -1)
                    }.sorted { $0.visitorID < $1.visitorID }
                    #expect(devices == wanted.devices, "\(email)")
                    #expect(Self.instant(person["first_seen"]) == wanted.devices.map(\.firstSeen).min(), "\(email)")
                    #expect(Self.instant(person["last_seen"]) == wanted.devices.map(\.lastSeen).max(), "\(email)")
                    let revenue = (person["revenue"] as? [String: NSNumber] ?? [:]).mapValues(\.doubleValue)
                    #expect(Set(revenue.keys) == Set(wanted.revenue.keys), "\(email)")
                    for (currency, sum) in wanted.revenue { #expect(abs((revenue[currency] ?? .nan) - (sum * 100).rounded() / 100) < 1e-6) }
                }
                for email in ["ana@example.com", "shared0@example.com", "shared1@example.com"] {
                    let (detail, json) = try VisitorRouteTests.get(client, "/api/people/\(email)?site=\(Self.site)")
                    #expect(detail.status == 200, "\(detail.text)")
                    let timeline = (json?["timeline"] as? [[String: Any]] ?? []).map {
                        "\($0["visitor_id"] as? String ?? "") \($0["time"] as? String ?? "") \($0["event"] as? String ?? "")"
                    }
                    #expect(timeline == PeopleReference.timeline(events, site: Self.site, email: email, erased: erased), "\(email)")
                }
            }
            try check(erased: [])
            let (ana, anaJSON) = try VisitorRouteTests.get(client, "/api/people/%20ANA%40example.com?site=\(Self.site)")
            #expect(ana.status == 200)
            #expect((anaJSON?["devices"] as? [[String: Any]])?.compactMap { $0["visitor_id"] as? String } == ["tablet", "laptop", "phone"])
            #expect((anaJSON?["identity"] as? [String: String])?["device"] == "tablet", "the latest device's traits win")
            #expect((anaJSON?["revenue"] as? [String: Double]) == ["EUR": 42.5])

            #expect(try exchange(client, "DELETE", "/api/visitors/laptop?site=\(Self.site)").status == 200)
            try check(erased: ["laptop"])
            let (after, afterJSON) = try VisitorRouteTests.get(client, "/api/people/ana@example.com?site=\(Self.site)")
            #expect(after.status == 200)
            #expect((afterJSON?["devices"] as? [[String: Any]])?.compactMap { $0["visitor_id"] as? String } == ["tablet", "phone"])
            #expect(!after.text.contains("laptop"))

            #expect(try VisitorRouteTests.get(client, "/api/people/nobody@example.com?site=\(Self.site)").0.status == 404)
            #expect(try VisitorRouteTests.get(client, "/api/people/%20?site=\(Self.site)").0.status == 404)
            #expect(try VisitorRouteTests.get(client, "/api/people").0.status == 400)
            #expect(try VisitorRouteTests.get(client, "/api/people?site=s&limit=1001").0.status == 400)
            let (searched, searchedJSON) = try VisitorRouteTests.get(client, "/api/people?site=\(Self.site)&date_range=all&search=SHARED")
            #expect(searched.status == 200)
            #expect(Set((searchedJSON?["people"] as? [[String: Any]] ?? []).compactMap { $0["email"] as? String }) == ["shared0@example.com", "shared1@example.com"])
        }
    }

    static func instant(_ value: Any?) -> Int64 {
        guard let text = value as? String else { return -1 }
        return Array(text.utf8).withUnsafeBytes { Timestamp.parse($0) } ?? -1
    }
}
