import Foundation
import Glibc
import Testing
import ClarmGateway
import ClarmServer
import ClarmStorage
import ClarmTestSupport

/// Registered sites: the routes, the file, and the per-event rules they bring, over real sockets.
@Suite struct SiteTests {
    static let shop = #"{"site":"Shop.Example.com","timezone":"Europe/Berlin","origins":["https://shop.example.com","http://localhost:3000"],"events_per_second":1000,"events_burst":5000}"#

    static func event(_ site: String, visitor: String = "v1") -> String {
        #"{"event":"page_view","visitor_id":"\#(visitor)","url":"https://\#(site)/a","timestamp":"2026-11-05T08:19:19.685Z"}"#
    }

    @Test func registersListsChangesAndRemovesSites() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let registry = try SiteRegistry.open(directory: directory.path)
        try withPolicyGateway(directory: directory.path, traffic: TrafficPolicy(sites: registry)) { port, _ in
            let client = try TestClient(port: port)
            let created = try exchange(client, "POST", "/api/sites", body: Self.shop)
            #expect(created.status == 201, "\(created.text)")
            #expect(created.json["site"] as? String == "shop.example.com")
            #expect(created.json["timezone"] as? String == "Europe/Berlin")
            #expect(try exchange(client, "POST", "/api/sites", body: Self.shop).status == 409)
            let other = try exchange(client, "POST", "/api/sites", body: #"{"site":"blog.example.com"}"#)
            #expect(other.status == 201)
            #expect(other.json["timezone"] as? String == "UTC")
            #expect(other.json["origins"] as? [String] == [])

            let list = try exchange(client, "GET", "/api/sites")
            #expect(list.status == 200)
            let sites = try #require(list.json["sites"] as? [[String: Any]])
            #expect(sites.map { $0["site"] as? String } == ["blog.example.com", "shop.example.com"])
            #expect(sites[1]["origins"] as? [String] == ["https://shop.example.com", "http://localhost:3000"])
            #expect(sites[1]["event_count"] as? Int == 0)
            #expect(sites[1]["last_event_at"] is NSNull)

            let changed = try exchange(client, "PUT", "/api/sites/shop.example.com",
                                       body: #"{"timezone":"America/New_York","origins":["https://shop.example.com"]}"#)
            #expect(changed.status == 200, "\(changed.text)")
            let shown = try exchange(client, "GET", "/api/sites/SHOP.example.com")
            #expect(shown.status == 200)
            #expect(shown.json["timezone"] as? String == "America/New_York")
            #expect(shown.json["origins"] as? [String] == ["https://shop.example.com"])
            #expect(try exchange(client, "PUT", "/api/sites/nope.example.com", body: "{}").status == 404)
            #expect(try exchange(client, "PUT", "/api/sites/shop.example.com", body: #"{"site":"other.example.com"}"#).status == 400)

            #expect(try exchange(client, "DELETE", "/api/sites/blog.example.com").status == 200)
            #expect(try exchange(client, "DELETE", "/api/sites/blog.example.com").status == 404)
            #expect(try exchange(client, "GET", "/api/sites/blog.example.com").status == 404)
            #expect(try exchange(client, "PATCH", "/api/sites/shop.example.com").status == 405)
        }
        // The file holds what was answered, and a new registry reads it back.
        let reopened = try SiteRegistry.open(directory: directory.path)
        let entries = reopened.snapshot().snapshot.entries.map(\.registration)
        #expect(entries == [SiteRegistration(site: "shop.example.com", timezone: "America/New_York",
                                             origins: ["https://shop.example.com"], eventsPerSecond: 1000, eventsBurst: 5000)])
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/sites.json.tmp"))
    }

    @Test(arguments: [
        (#"{"site":"bad_site.com"}"#, "not a host name"),
        (#"{"site":"-a.com"}"#, "not a host name"),
        (#"{"site":"a..com"}"#, "not a host name"),
        (#"{"site":""}"#, "host name"),
        ("{\"site\":\"" + String(repeating: "a", count: 254) + "\"}", "253"),
        (#"{}"#, "site is required"),
        (#"{"site":7}"#, "site must be a string"),
        (#"{"site":"a.com","timezone":"Mars/Olympus"}"#, "time zone database"),
        (#"{"site":"a.com","timezone":"../../etc/passwd"}"#, "time zone database"),
        (#"{"site":"a.com","timezone":"/etc/passwd"}"#, "time zone database"),
        (#"{"site":"a.com","timezone":"right/Europe/Berlin"}"#, "time zone database"),  // leap seconds: queries cannot use it
        (#"{"site":"a.com","origins":["https://a.com/"]}"#, "scheme://host"),
        (#"{"site":"a.com","origins":["ftp://a.com"]}"#, "scheme://host"),
        (#"{"site":"a.com","origins":["https://a.com:99999"]}"#, "scheme://host"),
        (#"{"site":"a.com","origins":["https://a.com:"]}"#, "scheme://host"),
        (#"{"site":"a.com","origins":"https://a.com"}"#, "array"),
        (#"{"site":"a.com","events_per_second":-1}"#, "events_per_second"),
        (#"{"site":"a.com","events_per_second":1.5}"#, "events_per_second"),
        (#"{"site":"a.com","events_per_second":10,"events_burst":0}"#, "events_burst"),
        (#"{"site":"a.com","colour":"red"}"#, "unknown field"),
        (#"{"site":"a.com""#, "invalid JSON"),
        (#"["a.com"]"#, "JSON object"),
    ])
    func refusesBadRegistrations(_ body: String, _ problem: String) throws {
        try withPolicyGateway { port, _ in
            let client = try TestClient(port: port)
            let response = try exchange(client, "POST", "/api/sites", body: body)
            #expect(response.status == 400)
            #expect((response.json["error"] as? String)?.contains(problem) == true, "\(response.text)")
        }
    }

    @Test func boundsSitesOriginsAndBodies() throws {
        let traffic = TrafficPolicy(sites: SiteRegistry(maxSites: 3))
        try withPolicyGateway(traffic: traffic) { port, _ in
            let client = try TestClient(port: port)
            for i in 0..<3 { #expect(try exchange(client, "POST", "/api/sites", body: #"{"site":"s\#(i).example.com"}"#).status == 201) }
            let full = try exchange(client, "POST", "/api/sites", body: #"{"site":"s9.example.com"}"#)
            #expect(full.status == 409)
            #expect((full.json["error"] as? String)?.contains("at most 3 sites") == true)
            let origins = (0...SiteRegistration.maxOrigins).map { "\"https://o\($0).example.com\"" }.joined(separator: ",")
            let many = try exchange(client, "PUT", "/api/sites/s0.example.com", body: #"{"origins":[\#(origins)]}"#)
            #expect(many.status == 400)
            #expect((many.json["error"] as? String)?.contains("at most 32") == true)
            let padding = String(repeating: " ", count: 70_000)
            #expect(try exchange(client, "PUT", "/api/sites/s0.example.com", body: "{}" + padding).status == 413)
        }
    }

    @Test func sitesRoutesNeedTheAPIKey() throws {
        try withPolicyGateway(apiKeys: ["secret-of-the-sites-test"]) { port, _ in
            let client = try TestClient(port: port)
            #expect(try exchange(client, "GET", "/api/sites").status == 401)
            #expect(try exchange(client, "POST", "/api/sites", body: #"{"site":"a.com"}"#).status == 401)
            #expect(try exchange(client, "DELETE", "/api/sites/a.com").status == 401)
            #expect(try exchange(client, "POST", "/api/sites", body: #"{"site":"a.com"}"#, headers: ["Authorization: Bearer secret-of-the-sites-test"]).status == 201)
            #expect(try exchange(client, "GET", "/api/sites", headers: ["Authorization: Bearer secret-of-the-sites-test"]).status == 200)
        }
    }

    @Test func rejectsUnknownSitesAndForeignOriginsPerEvent() throws {
        try withPolicyGateway { port, store in
            let client = try TestClient(port: port)
            // No site registered: every site is accepted.
            #expect(try exchange(client, "POST", "/api/track", body: Self.event("any.example.org")).json["accepted"] as? Int == 1)
            #expect(try exchange(client, "POST", "/api/sites", body: Self.shop).status == 201)

            let batch = "[" + [Self.event("shop.example.com", visitor: "a"), Self.event("spam.example.net"), "7",
                               Self.event("shop.example.com", visitor: "b")].joined(separator: ",") + "]"
            let fromServer = try exchange(client, "POST", "/api/track", body: batch)
            #expect(fromServer.status == 202)
            #expect(fromServer.json["accepted"] as? Int == 2)
            let rejected = try #require(fromServer.json["rejected"] as? [[String: Any]])
            #expect(rejected.map { $0["index"] as? Int } == [1, 2])
            #expect(rejected.first?["error"] as? String == "unknown site")

            let fromBrowser = try exchange(client, "POST", "/api/track", body: batch, headers: ["Origin: https://shop.example.com"])
            #expect(fromBrowser.json["accepted"] as? Int == 2)
            let fromElsewhere = try exchange(client, "POST", "/api/track", body: batch, headers: ["Origin: https://evil.example"])
            #expect(fromElsewhere.status == 202)
            #expect(fromElsewhere.json["accepted"] as? Int == 0)
            let reasons = (fromElsewhere.json["rejected"] as? [[String: Any]] ?? []).map { "\($0["index"]!) \($0["error"]!)" }
            #expect(reasons == ["0 origin not allowed for site", "1 unknown site", "2 event must be a JSON object",
                                "3 origin not allowed for site"])
            #expect(store.count == 1 + 2 + 2)
            #expect(Set(try store.allEvents().map(\.site)) == ["any.example.org", "shop.example.com"])
        }
    }

    /// Rates are one event a second, the slowest a registration takes, so that a loaded machine does not refill a
    /// bucket between two requests the test expects to find it empty.
    @Test func limitsEventsPerSite() throws {
        try withPolicyGateway { port, store in
            let client = try TestClient(port: port)
            #expect(try exchange(client, "POST", "/api/sites", body: #"{"site":"shop.example.com","events_per_second":1,"events_burst":4}"#).status == 201)
            #expect(try exchange(client, "POST", "/api/sites", body: #"{"site":"tiny.example.com","events_per_second":1,"events_burst":3}"#).status == 201)
            #expect(try exchange(client, "POST", "/api/sites", body: #"{"site":"blog.example.com","events_per_second":0}"#).status == 201)
            let four = "[" + (0..<4).map { Self.event("shop.example.com", visitor: "v\($0)") }.joined(separator: ",") + "]"
            #expect(try exchange(client, "POST", "/api/track", body: four).status == 202)
            let limited = try exchange(client, "POST", "/api/track", body: Self.event("shop.example.com"))
            #expect(limited.status == 429)
            #expect(limited.header("retry-after") == "1")
            #expect((limited.json["error"] as? String)?.contains("shop.example.com") == true)
            // A batch refused for one site gives back what it took from the others.
            let mixed = "[" + [Self.event("tiny.example.com"), Self.event("shop.example.com")].joined(separator: ",") + "]"
            #expect(try exchange(client, "POST", "/api/track", body: mixed).status == 429)
            let three = "[" + (0..<3).map { Self.event("tiny.example.com", visitor: "t\($0)") }.joined(separator: ",") + "]"
            #expect(try exchange(client, "POST", "/api/track", body: three).status == 202)
            #expect(store.count == 7)
            // A site without a limit is not slowed by another's.
            let many = "[" + (0..<50).map { Self.event("blog.example.com", visitor: "b\($0)") }.joined(separator: ",") + "]"
            #expect(try exchange(client, "POST", "/api/track", body: many).status == 202)
            #expect(store.count == 57)
            usleep(1_100_000)  // one a second: a token again
            #expect(try exchange(client, "POST", "/api/track", body: Self.event("shop.example.com")).status == 202)
            #expect(store.count == 58)
        }
    }

    @Test func listsEventCountsFromSegmentsAndMemtables() throws {
        var options = StoreOptions()
        options.sealEvents = 3
        try withPolicyGateway(options: options) { port, store in
            let client = try TestClient(port: port)
            #expect(try exchange(client, "POST", "/api/sites", body: #"{"site":"shop.example.com"}"#).status == 201)
            #expect(try exchange(client, "POST", "/api/sites", body: #"{"site":"quiet.example.com"}"#).status == 201)
            var events: [String] = []
            for i in 0..<10 {
                events.append(#"{"event":"page_view","visitor_id":"v\#(i)","url":"https://shop.example.com/","timestamp":"2026-11-0\#(i % 9 + 1)T08:00:00Z"}"#)
            }
            for event in events { #expect(try exchange(client, "POST", "/api/track", body: event).status == 202) }
            usleep(300_000)
            for _ in 0..<2 {
                let list = try exchange(client, "GET", "/api/sites")
                let sites = try #require(list.json["sites"] as? [[String: Any]])
                #expect(sites.map { $0["event_count"] as? Int } == [0, 10])
                #expect(sites[1]["last_event_at"] as? String == "2026-11-09T08:00:00.000Z")
            }
            #expect(store.snapshot().contains { !$0.segments.isEmpty })
        }
    }

    @Test func aFailedSaveChangesNothing() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let registry = try SiteRegistry.open(directory: directory.path + "/gone")
        try withPolicyGateway(traffic: TrafficPolicy(sites: registry)) { port, _ in
            let client = try TestClient(port: port)
            let response = try exchange(client, "POST", "/api/sites", body: #"{"site":"a.com"}"#)
            #expect(response.status == 500)
            #expect((response.json["error"] as? String)?.contains("could not be saved") == true)
            #expect(try exchange(client, "POST", "/api/track", body: Self.event("b.com")).json["accepted"] as? Int == 1)
            #expect((try exchange(client, "GET", "/api/sites").json["sites"] as? [Any])?.isEmpty == true)
        }
    }
}
