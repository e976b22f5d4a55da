import Foundation
import Testing
import ClarmEvents
import ClarmGateway
import ClarmQuery
import ClarmServer
import ClarmStorage
import ClarmTestSupport

/// Events in through POST /api/track, answers out of POST /api/query, compared with the reference.
@Suite struct QueryRouteTests {
    static func json(_ event: EventRecord) -> String {
        func quoted(_ s: String) -> String {
            let data = try! JSONSerialization.data(withJSONObject: [s], options: [])
            return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
        }
        var fields = [#""event":\#(quoted(event.event))"#, #""visitor_id":\#(quoted(event.visitorID))"#,
                      #""timestamp":"\#(Timestamp.format(event.timestamp))""#, #""url":\#(quoted(event.url))"#,
                      #""referrer":\#(quoted(event.referrer))"#, #""user_agent":\#(quoted(event.userAgent))"#,
                      #""site":\#(quoted(event.site))"#]
        if !event.sessionID.isEmpty { fields.append(#""session_id":\#(quoted(event.sessionID))"#) }
        if !event.properties.isEmpty { fields.append(#""properties":\#(event.properties)"#) }
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func post(_ client: TestClient, _ path: String, _ body: String, key: String? = nil) throws -> TestResponse {
        let auth = key.map { "Authorization: Bearer \($0)\r\n" } ?? ""
        try client.send("POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(auth)Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
        guard let response = try client.readResponse() else { throw TestFailure("no response") }
        return response
    }

    @Test func answersMatchTheReferenceOverHTTP() throws {
        let events = generateEvents(seed: 23, visitors: 150)
        try withGateway { port, _ in
            let client = try TestClient(port: port)
            for start in stride(from: 0, to: events.count, by: 200) {
                let batch = events[start..<min(events.count, start + 200)].map(Self.json).joined(separator: ",")
                let response = try Self.post(client, "/api/track", "[\(batch)]")
                #expect(response.status == 202, "\(response.text)")
            }
            let metrics = #""metrics":["visitors","visits","pageviews","events","bounce_rate","visit_duration","conversions","conversion_rate","total_revenue"]"#
            for dimensions in [#"[]"#, #"["time:day"]"#, #"["visit:source"]"#, #"["event:name","visit:device"]"#, #"["event:props:plan"]"#] {
                let text = #"{"site":"shop.example.com","date_range":"all",\#(metrics),"dimensions":\#(dimensions)}"#
                let response = try Self.post(client, "/api/query", text)
                #expect(response.status == 200, "\(response.text)")
                let answer = try JSONSerialization.jsonObject(with: Data(response.body)) as! [String: Any]
                let query = try Array(text.utf8).withUnsafeBytes { raw in try Query.parse(raw, now: 0) }
                let expected = QueryReference.run(events, query)
                let results = answer["results"] as! [[String: Any]]
                #expect(results.count == expected.count, "\(dimensions)")
                for row in results {
                    let key = row["dimensions"] as! [String]
                    let values = row["metrics"] as! [Any]
                    guard let reference = expected[key] else {
                        Issue.record("unexpected group \(key)")
                        continue
                    }
                    for (value, wanted) in zip(values, reference) {
                        switch wanted {
                        case .count(let n): #expect((value as? Int) == n, "\(key)")
                        case .decimal(let d): #expect(abs(((value as? NSNumber)?.doubleValue ?? .nan) - d) < 1e-9, "\(key)")
                        case .money(let sums):
                            let got = (value as? [String: NSNumber] ?? [:]).mapValues(\.doubleValue)
                            #expect(Set(got.keys) == Set(sums.keys))
                            for (currency, amount) in sums { #expect(abs((got[currency] ?? .nan) - (amount * 100).rounded() / 100) < 1e-6) }
                        }
                    }
                }
                #expect((answer["meta"] as? [String: Any])?["total_rows"] as? Int == expected.count)
            }
        }
    }

    @Test func apiKeysGuardTheQueryRoute() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try Store(directory: directory.path)
        defer { store.close() }
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.eventLoops = 1
        let server = try HTTPServer(configuration: configuration) { Gateway(store: store, access: GatewayAccess(apiKeys: ["k-one", "k-two"])) }
        defer {
            server.shutdown()
            server.waitUntilStopped()
        }
        let client = try TestClient(port: server.port)
        let query = #"{"site":"s","metrics":["visitors"]}"#
        let missing = try Self.post(client, "/api/query", query)
        #expect(missing.status == 401)
        #expect(missing.header("www-authenticate") == "Bearer")
        #expect(missing.text.contains("API key"))
        #expect(try Self.post(client, "/api/query", query, key: "k-on").status == 401)
        #expect(try Self.post(client, "/api/query", query, key: "k-one!").status == 401)
        #expect(try Self.post(client, "/api/query", query, key: "k-two").status == 200)
        // The tracking endpoint stays open.
        #expect(try Self.post(client, "/api/track", oneEvent).status == 202)
        let bad = try Self.post(client, "/api/query", #"{"site":"s","metrics":["nope"]}"#, key: "k-one")
        #expect(bad.status == 400)
        #expect(bad.text.contains("metrics[0]"))
    }
}

@Suite struct VisitorRouteTests {
    static func get(_ client: TestClient, _ target: String) throws -> (TestResponse, [String: Any]?) {
        try client.send("GET \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        guard let response = try client.readResponse() else { throw TestFailure("no response") }
        return (response, try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    @Test func visitorsAndConversionsOverHTTP() throws {
        try withGateway { port, _ in
            let client = try TestClient(port: port)
            let events = [
                #"{"event":"page_view","visitor_id":"v 1","session_id":"a","url":"https://shop.example.com/?utm_source=ads","timestamp":"2026-11-05T08:00:00Z"}"#,
                #"{"event":"identify","visitor_id":"v 1","session_id":"a","url":"https://shop.example.com/","timestamp":"2026-11-05T08:01:00Z","properties":{"email":"v@example.com","name":"V \"One\""}}"#,
                #"{"event":"purchase","visitor_id":"v 1","session_id":"a","url":"https://shop.example.com/checkout","timestamp":"2026-11-05T08:02:00Z","properties":{"amount":10,"currency":"EUR"}}"#,
            ]
            #expect(try QueryRouteTests.post(client, "/api/track", "[" + events.joined(separator: ",") + "]").status == 202)

            let (list, listJSON) = try Self.get(client, "/api/visitors?site=shop.example.com&date_range=all")
            #expect(list.status == 200, "\(list.text)")
            let visitors = try #require(listJSON?["visitors"] as? [[String: Any]])
            #expect(visitors.count == 1)
            #expect(visitors.first?["visitor_id"] as? String == "v 1")
            #expect((visitors.first?["identity"] as? [String: String])?["name"] == "V \"One\"")
            #expect((visitors.first?["revenue"] as? [String: Double])?["EUR"] == 10)

            let (detail, detailJSON) = try Self.get(client, "/api/visitors/v%201?site=shop.example.com")
            #expect(detail.status == 200, "\(detail.text)")
            #expect((detailJSON?["timeline"] as? [[String: Any]])?.map { $0["event"] as? String } == ["page_view", "identify", "purchase"])
            #expect(try Self.get(client, "/api/visitors/nobody?site=shop.example.com").0.status == 404)

            let (conversions, conversionsJSON) = try Self.get(client, "/api/conversions?site=shop.example.com&date_range=2026-11-05,2026-11-06")
            #expect(conversions.status == 200, "\(conversions.text)")
            let rows = try #require(conversionsJSON?["conversions"] as? [[String: Any]])
            #expect(rows.map { $0["kind"] as? String } == ["purchase", "lead"])
            #expect((rows.first?["first_touch"] as? [String: Any])?["source"] as? String == "ads")
            #expect((rows.first?["first_touch"] as? [String: Any])?["channel"] as? String == "Referral", "a campaign of no known kind")
            #expect(rows.first?["amount"] as? Double == 10)

            #expect(try Self.get(client, "/api/visitors").0.status == 400)
            #expect(try Self.get(client, "/api/conversions?site=s&date_range=soon").0.text.contains("date_range"))
            #expect(try Self.get(client, "/api/visitors?site=s&limit=0").0.status == 400)
        }
    }
}

@Suite struct LoaderRouteTests {
    @Test func servesTheLoaderWithValidators() throws {
        try withGateway { port, _ in
            let client = try TestClient(port: port)
            try client.send("GET /clarm.js HTTP/1.1\r\nHost: t\r\n\r\n")
            let script = try #require(try client.readResponse())
            #expect(script.status == 200)
            #expect(script.header("content-type") == "application/javascript; charset=utf-8")
            #expect(script.header("cache-control") == "public, max-age=3600")
            let etag = try #require(script.header("etag"))
            #expect(etag.hasPrefix("\"") && etag.count == 18)
            #expect(script.text.contains("ClarmTrack"))
            try client.send("GET /clarm.js HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"other\", \(etag)\r\n\r\n")
            let revalidated = try #require(try client.readResponse())
            #expect(revalidated.status == 304)
            #expect(revalidated.body.isEmpty)
            #expect(revalidated.header("etag") == etag)
            try client.send("HEAD /clarm.js HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try client.readResponse(toHead: true)?.header("content-length") == String(script.body.count))
        }
    }

    /// The binary serves exactly what Sources/ClarmGateway/Assets holds (the EmbedAssets build plugin embeds it).
    @Test(arguments: [("/clarm.js", "clarm.js"), ("/", "dashboard.html")])
    func embeddedAssetsMatchTheirSources(_ path: String, _ file: String) throws {
        try withGateway { port, _ in
            let client = try TestClient(port: port)
            try client.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let served = try #require(try client.readResponse()).text
            let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Sources/ClarmGateway/Assets/\(file)")
            #expect(served == (try String(contentsOf: source, encoding: .utf8)))
        }
    }
}
