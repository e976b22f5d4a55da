import Foundation
import Testing
import ClarmEvents
import ClarmGateway
import ClarmQuery
import ClarmSystem
import ClarmTestSupport

/// Over HTTP, a query runs in the site's registered zone unless it names another; list routes take `timezone=`.
@Suite struct QueryTimezoneRouteTests {
    @Test func theSitesZoneUnlessTheQueryNamesOne() throws {
        let traffic = TrafficPolicy(sites: SiteRegistry())
        try withPolicyGateway(traffic: traffic) { port, _ in
            let client = try TestClient(port: port)
            #expect(try exchange(client, "POST", "/api/sites", body: #"{"site":"zone.example.com","timezone":"Asia/Kolkata"}"#).status == 201)
            // An event every 47 minutes over the last two days.
            let now = wallClockMilliseconds() / 1000 * 1000
            let instants = (1...60).map { now - Int64($0) * 47 * 60_000 }
            let batch = instants.enumerated().map { i, t in
                #"{"event":"page_view","visitor_id":"v\#(i % 7)","timestamp":"\#(Timestamp.format(t))","url":"https://zone.example.com/"}"#
            }.joined(separator: ",")
            #expect(try exchange(client, "POST", "/api/track", body: "[\(batch)]").status == 202)
            for (override, zone) in [("", "Asia/Kolkata"), (#","timezone":"America/Los_Angeles""#, "America/Los_Angeles")] {
                for bucket in [Query.TimeBucket.hour, .day] {
                    let answer = try exchange(client, "POST", "/api/query", body: #"{"site":"zone.example.com","date_range":"all","metrics":["events"],"dimensions":["time:\#(bucket.rawValue)"]\#(override)}"#)
                    #expect(answer.status == 200, "\(answer.text)")
                    #expect((answer.json["query"] as? [String: Any])?["timezone"] as? String == zone)
                    var expected: [String: Int] = [:]
                    for t in instants { expected[QueryReference.timeLabel(t, bucket, zone: TimeZone(identifier: zone)!), default: 0] += 1 }
                    var actual: [String: Int] = [:]
                    for row in answer.json["results"] as? [[String: Any]] ?? [] {
                        actual[(row["dimensions"] as! [String])[0]] = (row["metrics"] as! [Int])[0]
                    }
                    #expect(actual == expected, "\(zone) \(bucket)")
                }
            }
            let unknown = try exchange(client, "POST", "/api/query", body: #"{"site":"zone.example.com","metrics":["events"],"timezone":"Europe/Nowhere"}"#)
            #expect(unknown.status == 400 && (unknown.json["error"] as? String)?.hasPrefix("timezone: ") == true, "\(unknown.text)")
            let listed = try exchange(client, "GET", "/api/visitors?site=zone.example.com&date_range=7d&timezone=Europe%2FBerlin")
            #expect(listed.status == 200 && (listed.json["meta"] as? [String: Any])?["total"] as? Int == 7, "\(listed.text)")
            let refused = try exchange(client, "GET", "/api/conversions?site=zone.example.com&timezone=..%2Fetc%2Fpasswd")
            #expect(refused.status == 400 && (refused.json["error"] as? String)?.hasPrefix("timezone: ") == true, "\(refused.text)")
        }
    }
}
