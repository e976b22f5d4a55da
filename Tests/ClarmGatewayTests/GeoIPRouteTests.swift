import Foundation
import Testing
import ClarmEvents
import ClarmGateway
import ClarmGeoIP
import ClarmQuery
import ClarmTestSupport

/// Events posted through a real gateway with `--geoip`, from client addresses given by the trusted
/// `X-Forwarded-For` (the loopback peer is a trusted proxy), answered by `/api/query` and `/api/v2/query`
/// and compared group by group with the reference over the same events located from the test database.
@Suite struct GeoIPRouteTests {
    static func database(_ directory: TemporaryDirectory) throws -> GeoIPDatabase {
        let path = directory.path + "/test.mmdb"
        try GeoIPFixture.write(to: path)
        return try GeoIPDatabase(path: path)
    }

    /// Posts the events, each run of one address in one request from that address.
    static func post(_ located: [(event: EventRecord, address: String)], port: Int) throws {
        let client = try TestClient(port: port)
        var start = 0
        while start < located.count {
            var end = start + 1
            while end < located.count && end - start < 100 && located[end].address == located[start].address { end += 1 }
            let body = "[" + located[start..<end].map { QueryRouteTests.json($0.event) }.joined(separator: ",") + "]"
            // A proxy chain: the client, then a trusted proxy (loopback) that the right-most entry names.
            try client.send(trackRequest(body, extraHeaders: "X-Forwarded-For: \(located[start].address), 127.0.0.2\r\n"))
            let response = try #require(try client.readResponse())
            #expect(response.status == 202, "\(response.text)")
            start = end
        }
    }

    static func answer(_ port: Int, _ path: String, _ body: String) throws -> [String: Any] {
        let response = try QueryRouteTests.post(try TestClient(port: port), path, body)
        #expect(response.status == 200, "\(response.text)")
        return try JSONSerialization.jsonObject(with: Data(response.body)) as! [String: Any]
    }

    @Test func locationsMatchTheReferenceOverHTTP() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let located = GeoIPFixture.locate(generateEvents(seed: 31, visitors: 120))
        let events = located.map(\.event)
        try withGateway(geoIP: try Self.database(directory)) { port, store in
            try Self.post(located, port: port)
            let stored = try store.allEvents()
            #expect(stored.count == events.count)
            #expect(Set(stored.map { "\($0.visitorID) \($0.timestamp) \($0.country)|\($0.region)|\($0.city)" })
                    == Set(events.map { "\($0.visitorID) \($0.timestamp) \($0.country)|\($0.region)|\($0.city)" }), "the database's answers are stored")
            let metrics = #""metrics":["visitors","visits","pageviews","events","bounce_rate","visit_duration","conversions"]"#
            let queries = [
                #"{"site":"shop.example.com","date_range":"all",\#(metrics),"dimensions":["visit:country"]}"#,
                #"{"site":"shop.example.com","date_range":"all",\#(metrics),"dimensions":["visit:country","visit:region","visit:city"]}"#,
                #"{"site":"shop.example.com","date_range":"all",\#(metrics),"dimensions":["visit:city"],"filters":[["is","visit:country",["US","JP"]]]}"#,
            ]
            for text in queries {
                let answer = try Self.answer(port, "/api/query", text)
                let query = try Array(text.utf8).withUnsafeBytes { raw in try Query.parse(raw, now: 0) }
                let expected = QueryReference.run(events, query)
                let results = answer["results"] as! [[String: Any]]
                #expect(results.count == expected.count && expected.count > 2, "\(text)")
                for row in results {
                    let key = row["dimensions"] as! [String]
                    let values = (row["metrics"] as! [NSNumber]).map(\.doubleValue)
                    guard let reference = expected[key] else {
                        Issue.record("unexpected group \(key) for \(text)")
                        continue
                    }
                    let wanted = reference.map { value -> Double in
                        switch value {
                        case .count(let n): Double(n)
                        case .decimal(let d): d
                        case .money: .nan
                        }
                    }
                    #expect(values == wanted, "\(key) for \(text)")
                }
            }

            // A visitor's timeline carries each event's location.
            let visitor = events.first { $0.site == "shop.example.com" }!.visitorID
            let client = try TestClient(port: port)
            try client.send("GET /api/visitors/\(visitor)?site=shop.example.com HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let detail = try #require(try client.readResponse())
            #expect(detail.status == 200, "\(detail.text)")
            let timeline = (try JSONSerialization.jsonObject(with: Data(detail.body)) as! [String: Any])["timeline"] as! [[String: Any]]
            let own = events.filter { $0.visitorID == visitor && $0.site == "shop.example.com" }.sorted { $0.timestamp < $1.timestamp }
            #expect(timeline.map { "\($0["country"]!)|\($0["region"]!)|\($0["city"]!)" } == own.map { "\($0.country)|\($0.region)|\($0.city)" })

            // Plausible's names: visit:country is the ISO code, the names come under *_name.
            let plausible = try Self.answer(port, "/api/v2/query", #"{"site_id":"shop.example.com","metrics":["visitors"],"date_range":"all","dimensions":["visit:country","visit:region_name","visit:city_name"],"filters":[["is","visit:country",["BR"]]]}"#)
            let rows = (plausible["results"] as! [[String: Any]]).map { $0["dimensions"] as! [String] }
            #expect(rows == [["BR", "São Paulo", "São Paulo"]])
            let refused = try QueryRouteTests.post(try TestClient(port: port), "/api/v2/query", #"{"site_id":"shop.example.com","metrics":["visitors"],"date_range":"all","dimensions":["visit:city"]}"#)
            #expect(refused.status == 400 && refused.text.contains("visit:city_name"), "\(refused.text)")
        }
    }

    @Test func withoutADatabaseEventsAreUnlocated() throws {
        let located = GeoIPFixture.locate(generateEvents(seed: 4, visitors: 10))
        try withGateway { port, store in
            try Self.post(located, port: port)
            #expect(try store.allEvents().allSatisfy { $0.country.isEmpty && $0.region.isEmpty && $0.city.isEmpty })
        }
    }

    /// `clarm serve --geoip` with a file that is no location database stops with exit 1 and says why.
    @Test(arguments: ["missing", "truncated", "asn"])
    func serveRefusesABadDatabase(_ kind: String) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/db.mmdb"
        switch kind {
        case "truncated":
            try GeoIPFixture.write(to: path)
            let whole = try Data(contentsOf: URL(fileURLWithPath: path))
            try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: path))
        case "asn": try GeoIPFixture.write(to: path, databaseType: "GeoLite2-ASN")
        default: break
        }
        let process = Process()
        process.executableURL = ServeProcess.binary
        process.arguments = ["serve", "--port", "0", "--data", directory.path + "/store", "--geoip", path]
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        let said = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1, "\(said)")
        #expect(said.contains("--geoip \(path)"), "\(said)")
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/store"), "nothing was created")
    }
}

@Suite struct GeoIPCommandTests {
    func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = ServeProcess.binary
        process.arguments = ["geoip"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    @Test func checksADatabaseAndLocatesAddresses() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/test.mmdb"
        try GeoIPFixture.write(to: path)
        let (status, output) = try run([path] + GeoIPFixture.probes.map(\.address))
        #expect(status == 0, "\(output)")
        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines.first?.contains("Clarm-Test-City, IPv6") == true && lines.first?.contains("7 locations") == true, "\(output)")
        for (probe, line) in zip(GeoIPFixture.probes, lines.dropFirst()) {
            func shown(_ value: String) -> String { value.isEmpty ? "-" : value }
            #expect(line == "\(probe.address)\tcountry \(shown(probe.country))\tregion \(shown(probe.region))\tcity \(shown(probe.city))")
        }
        #expect(lines.count == GeoIPFixture.probes.count + 1)

        try GeoIPFixture.write(to: path, databaseType: "GeoLite2-ASN")
        let refused = try run([path])
        #expect(refused.status == 1 && refused.output.contains("holds no locations"), "\(refused.output)")
    }
}
