import Foundation
import Glibc
import Testing
import ClarmEvents
import ClarmGateway
import ClarmTestSupport

/// `clarm import` against `POST /api/track`: the same events stored either way answer every query alike, and
/// the lines the gateway would refuse (not JSON, a field rule broken, an unregistered site, a crawler, too long)
/// are refused by the import too.
@Suite struct ImportCommandTests {
    static let queries = [
        #""metrics":["visitors","visits","pageviews","events","bounce_rate","visit_duration","conversions","total_revenue"],"dimensions":[]"#,
        #""metrics":["visitors","pageviews"],"dimensions":["time:day"]"#,
        #""metrics":["visitors","pageviews"],"dimensions":["event:page"]"#,
        #""metrics":["visitors","visits","conversions"],"dimensions":["visit:source"]"#,
        #""metrics":["visits","bounce_rate","visit_duration"],"dimensions":["visit:entry_page"]"#,
        #""metrics":["events"],"dimensions":["event:name","visit:device"]"#,
    ]

    /// Each query's `results` from the gateway on `port`, as JSON text with sorted keys.
    static func answers(port: Int, site: String) throws -> [String] {
        let client = try TestClient(port: port)
        defer { client.hangUp() }
        return try queries.map { fields in
            let response = try QueryRouteTests.post(client, "/api/query", #"{"site":"\#(site)","date_range":"all","limit":10000,\#(fields)}"#)
            #expect(response.status == 200, "\(response.text)")
            let answer = try JSONSerialization.jsonObject(with: Data(response.body)) as! [String: Any]
            let results = try JSONSerialization.data(withJSONObject: answer["results"] as Any, options: [.sortedKeys])
            return String(decoding: results, as: UTF8.self)
        }
    }

    @Test func importedEventsAnswerAsPostedOnes() throws {
        let events = generateEvents(seed: 41, visitors: 300)
        let lines = events.map(QueryRouteTests.json)
        let crawler = QueryRouteTests.json(EventRecord(
            timestamp: events[0].timestamp, receivedAt: 0, event: "page_view", visitorID: "v-crawler", url: "https://shop.example.com/",
            referrer: "", userAgent: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", site: "shop.example.com"))
        let refused = [
            "{not json",
            #"{"event":"page_view","url":"https://shop.example.com/","timestamp":"2026-11-01T10:00:00Z","site":"shop.example.com"}"#,
            #"{"event":"page_view","visitor_id":"v-other","url":"https://unregistered.example.net/","timestamp":"2026-11-01T10:00:00Z","site":"unregistered.example.net"}"#,
            #"{"event":"page_view","visitor_id":"v-long","url":"https://shop.example.com/\#(String(repeating: "a", count: EventImport.maxLineBytes))"}"#,
            // Two values on one line, the second refused: neither is taken, and no later line is misnumbered.
            #"{"event":"page_view","visitor_id":"v-two","url":"https://shop.example.com/","timestamp":"2026-11-01T10:00:00Z"},{"event":"page_view"}"#,
        ]
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        // The refused lines and a crawler's event among the good ones, a blank line, the last line without its newline.
        let file = lines[..<100] + refused + [crawler, ""] + lines[100...]
        try file.joined(separator: "\n").write(toFile: directory.path + "/events.ndjson", atomically: true, encoding: .utf8)

        // Registering the two generated sites makes the third one's event an unregistered site's.
        let data = directory.path + "/imported"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let registry = try SiteRegistry.open(directory: data)
        try registry.add(SiteRegistration(site: "shop.example.com"))
        try registry.add(SiteRegistration(site: "other.example.org"))
        let imported = try SitesCommandTests.clarm(["import", directory.path + "/events.ndjson", "--data", data, "--shards", "2",
                                                    "--max-event-age", String(historyMaxEventAgeDays)])
        #expect(imported.status == 0, "\(imported.err)")
        #expect(imported.out.contains("\(file.count) lines: \(events.count) events stored, 0 duplicates, 1 crawlers' events dropped, 5 rejected"),
                "\(imported.out)")
        for expected in ["line 101: not JSON", "line 102: visitor_id is required", "line 103: unknown site", "line 104: line longer than",
                         "line 105: a line holds one event object, not 2 values"] {
            #expect(imported.err.contains(expected), "\(imported.err)")
        }

        let (server, port) = try ServeProcess.launch(["--data", data, "--loops", "1"])
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        try withGateway { postedPort, _ in
            let client = try TestClient(port: postedPort)
            for start in stride(from: 0, to: lines.count, by: 500) {
                let response = try QueryRouteTests.post(client, "/api/track", "[\(lines[start..<min(lines.count, start + 500)].joined(separator: ","))]")
                #expect(response.status == 202, "\(response.text)")
            }
            client.hangUp()
            for site in ["shop.example.com", "other.example.org"] {
                let posted = try Self.answers(port: postedPort, site: site)
                let fromImport = try Self.answers(port: port, site: site)
                #expect(posted.allSatisfy { $0.count > 10 })
                #expect(fromImport == posted)
            }
        }
    }

    @Test func anImportDoesNotShareADirectoryWithAServer() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try "".write(toFile: directory.path + "/empty.ndjson", atomically: true, encoding: .utf8)
        let (server, _) = try ServeProcess.launch(["--data", directory.path + "/data", "--loops", "1"])
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        let refused = try SitesCommandTests.clarm(["import", directory.path + "/empty.ndjson", "--data", directory.path + "/data"])
        #expect(refused.status != 0)
        #expect(refused.err.contains("in use by process \(server.processIdentifier)"), "\(refused.err)")
    }
}
