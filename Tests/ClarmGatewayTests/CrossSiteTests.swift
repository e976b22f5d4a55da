import Testing
import ClarmStorage
import ClarmTestSupport
@testable import ClarmGateway

/// A page of another site can make the operator's browser send a simple `POST` to a gateway on their machine:
/// private routes refuse changes whose `Origin` is not the gateway's own.
@Suite struct CrossSiteTests {
    static let site = #"{"site":"shop.example.com"}"#

    @Test func changesFromAnotherOriginAreRefused() throws {
        try withPolicyGateway { port, _ in
            let client = try TestClient(port: port)
            let forged = try exchange(client, "POST", "/api/sites", body: Self.site,
                                      headers: ["Origin: https://evil.example", "Content-Type: text/plain"])
            #expect(forged.status == 403)
            #expect((forged.json["error"] as? String)?.contains("cross-site request refused") == true)
            #expect(try exchange(client, "POST", "/api/destinations", body: "{}", headers: ["Origin: null"]).status == 403)
            #expect(try exchange(client, "DELETE", "/api/sites/shop.example.com", headers: ["Origin: https://evil.example"]).status == 403)
            #expect(try exchange(client, "GET", "/api/sites").json["sites"] as? [Any] != nil)
            // The dashboard's own page, on any port of the gateway's name (a TLS proxy drops the port from Host).
            #expect(try exchange(client, "POST", "/api/sites", body: Self.site, headers: ["Origin: https://127.0.0.1:8443"]).status == 201)
            // Clients that are not browsers send no Origin.
            #expect(try exchange(client, "DELETE", "/api/sites/shop.example.com").status == 200)
            // Queries are POSTs too: another site's page may not spend the gateway's work on them.
            #expect(try exchange(client, "POST", "/api/query", body: #"{"site":"shop.example.com","metrics":["events"]}"#,
                                 headers: ["Origin: https://evil.example"]).status == 403)
            // Events come from every site's pages.
            #expect(try exchange(client, "POST", "/api/track", body: #"{"event":"page_view","visitor_id":"v","site":"shop.example.com","url":"https://shop.example.com/"}"#,
                                 headers: ["Origin: https://shop.example.com", "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"]).status == 202)
        }
    }

    @Test func sameOriginComparesHostNames() {
        func same(_ origin: String, _ host: String?) -> Bool {
            var origin = origin, host = host
            return origin.withUTF8 { o in
                guard host != nil else { return Gateway.isSameOrigin(UnsafeRawBufferPointer(o), host: nil) }
                return host!.withUTF8 { h in Gateway.isSameOrigin(UnsafeRawBufferPointer(o), host: UnsafeRawBufferPointer(h)) }
            }
        }
        #expect(same("http://127.0.0.1:8080", "127.0.0.1:8080"))
        #expect(same("https://Stats.Example.com", "stats.example.com:443"))
        #expect(!same("https://stats.example.com.evil.example", "stats.example.com"))
        #expect(!same("null", "127.0.0.1"))
        #expect(!same("http://127.0.0.1", nil))
        #expect(!same("", "127.0.0.1"))
    }
}
