import Foundation
import Glibc
import Testing
import ClarmTestSupport

/// `DELETE /api/visitors/{id}?site=S` against a real `clarm serve`: the visitor is gone from every answer at
/// once, and stays gone after a SIGKILL right after the 200 and a restart; other visitors are untouched.
@Suite struct ErasureRouteTests {
    static let site = "erase.example.com"

    static func events(_ visitor: String, count: Int) -> String {
        "[" + (0..<count).map { n in
            #"{"event":"page_view","visitor_id":"\#(visitor)","session_id":"s-\#(visitor)","event_id":"\#(visitor)-\#(n)","# +
            #""url":"https://\#(site)/p/\#(n)","timestamp":"2026-11-05T08:19:19.685Z"}"#
        }.joined(separator: ",")
        + #",{"event":"identify","visitor_id":"\#(visitor)","session_id":"s-\#(visitor)","event_id":"\#(visitor)-id","# +
        #""url":"https://\#(site)/login","timestamp":"2026-11-05T08:20:00.000Z","properties":{"email":"\#(visitor)@mail.example"}}]"#
    }

    static func get(_ client: TestClient, _ target: String) throws -> (Int, [String: Any]) {
        let response = try ExposureTests.request(client, "GET", target)
        return (response.status, (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:])
    }

    static func visitorIDs(_ client: TestClient) throws -> Set<String> {
        let (status, json) = try get(client, "/api/visitors?site=\(site)&date_range=2026-11-01,2026-11-30")
        #expect(status == 200)
        return Set((json["visitors"] as? [[String: Any]] ?? []).compactMap { $0["visitor_id"] as? String })
    }

    static func pageViews(_ client: TestClient) throws -> Int {
        let query = #"{"site":"\#(site)","metrics":["pageviews"],"date_range":["2026-11-01","2026-11-30"]}"#
        let response = try ExposureTests.request(client, "POST", "/api/query", body: query)
        let json = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        let rows = json["results"] as? [[String: Any]] ?? []
        return (rows.first?["metrics"] as? [Int])?.first ?? -1
    }

    static func eventCount(_ client: TestClient) throws -> Int {
        let sites = try get(client, "/api/sites").1["sites"] as? [[String: Any]] ?? []
        return sites.first { $0["site"] as? String == site }?["event_count"] as? Int ?? -1
    }

    @Test func erasedVisitorIsGoneAtOnceAndAfterSIGKILL() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let arguments = ["--data", directory.path, "--shards", "2"]
        var (process, port) = try ServeProcess.launch(arguments)
        var client = try TestClient(port: port)
        let registered = try ExposureTests.request(client, "POST", "/api/sites", body: #"{"site":"\#(Self.site)","origins":[]}"#)
        #expect(registered.status == 201)
        for visitor in ["gone", "kept"] {
            try client.send(trackRequest(Self.events(visitor, count: 5)))
            #expect(try client.readResponse()?.status == 202)
        }
        #expect(try Self.visitorIDs(client) == ["gone", "kept"])
        #expect(try Self.pageViews(client) == 10)
        #expect(try Self.eventCount(client) == 12)

        let erased = try ExposureTests.request(client, "DELETE", "/api/visitors/gone?site=\(Self.site)")
        #expect(erased.status == 200)
        let answer = (try? JSONSerialization.jsonObject(with: Data(erased.body))) as? [String: Any] ?? [:]
        #expect((answer["erased"] as? [String: String]) == ["site": Self.site, "visitor_id": "gone"])
        #expect(answer["pending_physical"] is Bool)
        #expect(try Self.visitorIDs(client) == ["kept"])
        #expect(try Self.get(client, "/api/visitors/gone?site=\(Self.site)").0 == 404)
        #expect(try Self.pageViews(client) == 5)
        #expect(try Self.eventCount(client) == 6)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()

        (process, port) = try ServeProcess.launch(arguments)
        defer {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        client = try TestClient(port: port)
        #expect(try Self.visitorIDs(client) == ["kept"])
        #expect(try Self.get(client, "/api/visitors/gone?site=\(Self.site)").0 == 404)
        #expect(try Self.get(client, "/api/visitors/kept?site=\(Self.site)").0 == 200)
        #expect(try Self.pageViews(client) == 5)
        #expect(try Self.eventCount(client) == 6)
        #expect(try ExposureTests.request(client, "DELETE", "/api/visitors/kept").status == 400)
    }

    @Test func clarmEraseSendsTheKeyAndReportsTheErasure() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let key = "the-key-of-the-erase-test"
        let (process, port) = try ServeProcess.launch(["--data", directory.path, "--loops", "1", "--api-key", key])
        defer {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        let url = ["--url", "http://127.0.0.1:\(port)"]
        let arguments = ["erase", "--site", Self.site, "--visitor", "v 1/ü"] + url
        let refused = try SitesCommandTests.clarm(arguments)
        #expect(refused.status != 0)
        #expect(refused.err.contains("401"))
        let erased = try SitesCommandTests.clarm(arguments + ["--api-key", key])
        #expect(erased.status == 0, "\(erased.err)")
        #expect(erased.out.contains("erased visitor v 1/ü on \(Self.site)"))
    }
}
