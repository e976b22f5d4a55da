import Foundation
import Testing
import ClarmGateway
import ClarmTestSupport

/// Sensitive URL parameters never reach storage, over real sockets; a site's registration keeps the ones it names.
@Suite struct URLScrubbingTests {
    static func timeline(_ client: TestClient, _ visitor: String, site: String) throws -> [[String: Any]] {
        let answer = try exchange(client, "GET", "/api/visitors/\(visitor)?site=\(site)")
        #expect(answer.status == 200, "\(answer.text)")
        return answer.json["timeline"] as? [[String: Any]] ?? []
    }

    @Test func storedURLsLoseSensitiveParametersUnlessTheSiteKeepsThem() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let registry = try SiteRegistry.open(directory: directory.path)
        try withPolicyGateway(directory: directory.path, traffic: TrafficPolicy(sites: registry)) { port, _ in
            let client = try TestClient(port: port)
            #expect(try exchange(client, "POST", "/api/sites", body: #"{"site":"shop.example.com"}"#).status == 201)
            let kept = try exchange(client, "POST", "/api/sites", body: #"{"site":"app.example.com","keep_parameters":["CODE","code"]}"#)
            #expect(kept.status == 201, "\(kept.text)")
            #expect(kept.json["keep_parameters"] as? [String] == ["code"])
            for body in [#"{"site":"a.example.com","keep_parameters":["access_token"]}"#, #"{"site":"a.example.com","keep_parameters":"code"}"#,
                         #"{"site":"a.example.com","keep_parameters":[\#((0..<33).map { _ in "\"code\"" }.joined(separator: ","))]}"#] {
                let refused = try exchange(client, "POST", "/api/sites", body: body)
                #expect(refused.status == 400 && refused.text.contains("keep_parameters"), "\(refused.text)")
            }

            let events = [
                #"{"event":"page_view","visitor_id":"v1","url":"https://shop.example.com/p?Email=a%40b.c&q=1&%74oken=t#access_token=x&n=2","referrer":"https://mail.example/?sid=9&x=1"}"#,
                #"{"event":"page_view","visitor_id":"v2","url":"https://app.example.com/cb?code=c1&password=p&keyboard=1"}"#,
            ]
            let posted = try exchange(client, "POST", "/api/track", body: "[" + events.joined(separator: ",") + "]")
            #expect(posted.status == 202, "\(posted.text)")
            let shop = try Self.timeline(client, "v1", site: "shop.example.com")
            #expect(shop.first?["url"] as? String == "https://shop.example.com/p?q=1#n=2")
            #expect(shop.first?["referrer"] as? String == "https://mail.example/?x=1")
            let app = try Self.timeline(client, "v2", site: "app.example.com")
            #expect(app.first?["url"] as? String == "https://app.example.com/cb?code=c1&keyboard=1")
        }
        let reopened = try SiteRegistry.open(directory: directory.path)
        #expect(reopened.snapshot().snapshot.entry("app.example.com")?.registration.keepParameters == ["code"])
    }
}
