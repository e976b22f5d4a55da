import Testing
import ClarmEvents
import ClarmStorage
import ClarmTestSupport
@testable import ClarmQuery

/// `visit:country`, `visit:region`, `visit:city` (docs/QUERIES.md, "Location"), checked group by group against
/// the reference over events whose location changes between a visitor's visits.
@Suite struct LocationQueryTests {
    static let metrics = QueryEngineTests.allMetrics
    static let queries: [String] = [
        #"{"site":"shop.example.com","date_range":"all",\#(metrics),"dimensions":["visit:country"]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(metrics),"dimensions":["visit:country","visit:region","visit:city"]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(metrics),"dimensions":["visit:city","event:name"]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(metrics),"dimensions":["visit:region"],"filters":[["is","visit:country",["DE","US"]]]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(metrics),"dimensions":["event:page"],"filters":[["is_not","visit:country",[""]],["contains","visit:city",["São"]]]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(metrics),"dimensions":["visit:country","visit:source"],"filters":[["matches","visit:region",["^(Bavaria|Tokyo)$"]]]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(metrics),"dimensions":["visit:country"],"attribution":"first_touch"}"#,
        #"{"site":"shop.example.com","date_range":["2026-11-02","2026-11-04"],\#(metrics),"dimensions":["visit:city"],"attribution":"last_touch"}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(metrics),"dimensions":["time:day","visit:city"],"filters":[["is","visit:country",[""]]]}"#,
    ]

    @Test func matchesTheReferenceOnEveryLocationQuery() throws {
        let events = GeoIPFixture.locate(generateEvents(seed: 17, visitors: 300)).map(\.event)
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try makeStore(events, directory: directory)
        defer { store.close() }
        let engine = QueryEngine(store: store)
        for text in Self.queries {
            let query = try parse(text)
            let result = try engine.run(query)
            let expected = QueryReference.run(events, query)
            #expect(result.totalRows == expected.count, "\(text)")
            #expect(expected.count > 1, "the query has groups to compare: \(text)")
            var actual: [[String]: [MetricValue]] = [:]
            for row in result.rows { actual[row.dimensions] = row.metrics }
            for (key, metrics) in expected {
                guard let got = actual[key] else {
                    Issue.record("missing group \(key) for \(text)")
                    continue
                }
                for (i, metric) in query.metrics.enumerated() {
                    #expect(QueryEngineTests().same(got[i], metrics[i]), "\(metric) of \(key) for \(text): \(got[i]) vs \(metrics[i])")
                }
            }
        }
    }

    /// A visit's location is its first event's, even when later events of the visit come from elsewhere.
    @Test func aVisitTakesItsFirstEventsLocation() throws {
        func event(_ t: Int64, _ country: String, _ city: String) -> EventRecord {
            var e = EventRecord(timestamp: 1_793_491_200_000 + t * 60_000, receivedAt: 0, event: "page_view", visitorID: "v",
                                sessionID: "s", url: "https://shop.example.com/", site: "shop.example.com")
            e.country = country
            e.city = city
            return e
        }
        let events = [event(0, "DE", "Munich"), event(1, "US", "New York"), event(2, "", "")]
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try makeStore(events, directory: directory)
        defer { store.close() }
        let result = try QueryEngine(store: store).run(try parse(#"{"site":"shop.example.com","date_range":"all","metrics":["visitors","pageviews"],"dimensions":["visit:country","visit:city"]}"#))
        #expect(result.rows.map(\.dimensions) == [["DE", "Munich"]])
        #expect(result.rows.first?.metrics == [.count(1), .count(3)])
    }

    @Test func plausibleNamesMapToTheLocationDimensions() throws {
        func parsePlausible(_ text: String) -> Result<PlausibleQuery, QueryError> {
            Array(text.utf8).withUnsafeBytes { raw in Result { () throws(QueryError) in try PlausibleQuery.parse(raw, now: 1_793_750_400_000) } }
        }
        func body(_ dimension: String) -> String {
            #"{"site_id":"shop.example.com","metrics":["visitors"],"date_range":"all","dimensions":["\#(dimension)"]}"#
        }
        #expect(try parsePlausible(body("visit:country")).get().query.dimensions == [.visitCountry])
        #expect(try parsePlausible(body("visit:region_name")).get().query.dimensions == [.visitRegion])
        #expect(try parsePlausible(body("visit:city_name")).get().query.dimensions == [.visitCity])
        for (name, hint) in [("visit:region", "visit:region_name"), ("visit:city", "visit:city_name"), ("visit:country_name", "visit:country")] {
            guard case .failure(let error) = parsePlausible(body(name)) else {
                Issue.record("\(name) was accepted")
                continue
            }
            #expect(error.problem.contains(hint), "\(error.problem)")
        }
        let filtered = try parsePlausible(#"{"site_id":"shop.example.com","metrics":["visitors"],"date_range":"all","filters":[["is","visit:city_name",["Berlin"]]]}"#).get()
        #expect(filtered.query.filters.map(\.dimension) == [.visitCity])
    }

    @Test func theClickHouseEngineRefusesLocations() throws {
        for text in [#"{"site":"a.example","date_range":"all","metrics":["events"],"dimensions":["visit:region"]}"#,
                     #"{"site":"a.example","date_range":"all","metrics":["events"],"filters":[["is","visit:country",["DE"]]]}"#] {
            #expect(throws: QueryError.self, "\(text)") { try ClickHouseQueryEngine.checkSupported(try parse(text)) }
            do {
                try ClickHouseQueryEngine.checkSupported(try parse(text))
            } catch {
                #expect(error.problem.contains("not shipped to ClickHouse"), "\(error.problem)")
            }
        }
    }
}
