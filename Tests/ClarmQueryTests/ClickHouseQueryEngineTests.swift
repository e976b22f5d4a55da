import ClarmClickHouse
import ClarmEvents
import ClarmHTTPClient
import ClarmTestSupport
import Testing
@testable import ClarmQuery

/// The reference query set answered by SQL on a real clickhouse-server and by the embedded engine over the
/// same events: every group and every metric must agree.
@Suite(.serialized, .enabled(if: ClickHouseServers.isInstalled, Comment(rawValue: ClickHouseServers.skipMessage)))
struct ClickHouseQueryEngineTests {
    /// Queries the ClickHouse engine refuses with a 400 for now: attribution, event:props, filters on time,
    /// patterns and case-insensitive filters, or/not trees and comparisons.
    static func unsupported(_ query: Query) -> Bool {
        query.attribution != nil || query.filterTree != nil || query.comparison != nil
            || (query.dimensions + query.filters.map(\.dimension)).contains { if case .eventProperty = $0 { true } else { false } }
            || query.filters.contains {
                if case .time = $0.dimension { return true }
                return $0.op == .matches || $0.op == .matches_not || !$0.caseSensitive
            }
    }

    @Test func agreesWithTheEmbeddedEngineOnTheQuerySet() throws {
        let servers = try ClickHouseServers(count: 1)
        defer { servers.shutdown() }
        let endpoint = try ClickHouseEndpoint(url: servers.servers[0].url, database: "clarm_q")
        _ = try ClickHouseSchema.initialize(servers: [endpoint])
        let (events, rows) = Self.events()
        try endpoint.insert(rows)
        try endpoint.insert(rows)  // everything twice: FINAL must count each event once

        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try makeStore(events, directory: directory)
        defer { store.close() }
        let embedded = QueryEngine(store: store)
        let sql = ClickHouseQueryEngine(table: endpoint.eventsTable) { try endpoint.select($0, seconds: 30, memoryBytes: 1 << 30) }
        // Queries run read-only: the server refuses a change in one.
        #expect((try? endpoint.select("INSERT INTO \(endpoint.eventsTable) (site) VALUES ('x')", seconds: 5, memoryBytes: 1 << 30)) == nil)
        #expect(try endpoint.select("SELECT count() FROM \(endpoint.eventsTable) WHERE site = 'x'", seconds: 5, memoryBytes: 1 << 30)
            .trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        try Self.compareQuerySet(sql, embedded)
    }

    /// The reference query set's events and their rows (RowBinary, with event keys).
    static func events() -> ([EventRecord], [UInt8]) {
        let events = generateEvents(seed: 11, visitors: 400)
        var writer = RowBinaryWriter()
        var reader = PropertyReader()
        for event in events { ClickHouseRow.append(event, key: ClickHouseRow.eventKey(event), to: &writer, reader: &reader) }
        return (events, writer.bytes)
    }

    /// Runs the reference query set (plus zoned buckets) on both engines; every group and metric must agree,
    /// and what the SQL engine refuses must be refused.
    static func compareQuerySet(_ sql: ClickHouseQueryEngine, _ embedded: QueryEngine) throws {
        let zoned = [
            #"{"site":"shop.example.com","date_range":"all","timezone":"Europe/Berlin",\#(QueryEngineTests.allMetrics),"dimensions":["time:hour"]}"#,
            #"{"site":"shop.example.com","date_range":"all","timezone":"America/Los_Angeles",\#(QueryEngineTests.allMetrics),"dimensions":["time:day","visit:channel"]}"#,
            #"{"site":"shop.example.com","date_range":"all","timezone":"Asia/Kolkata",\#(QueryEngineTests.allMetrics),"dimensions":["time:week"],"limit":3,"offset":1}"#,
        ]
        var compared = 0, visitQueries = 0
        for text in QueryEngineTests.queries + zoned {
            let query = try parse(text)
            if unsupported(query) {
                #expect(throws: QueryError.self) { try sql.run(query) }
                continue
            }
            if query.needsVisits { visitQueries += 1 }
            let expected = try embedded.run(query)
            let actual = try sql.run(query)
            #expect(actual.totalRows == expected.totalRows, "\(text)")
            #expect(actual.rows.map(\.dimensions) == expected.rows.map(\.dimensions), "order of \(text)")
            for (got, want) in zip(actual.rows, expected.rows) where got.dimensions == want.dimensions {
                for (i, metric) in query.metrics.enumerated() {
                    #expect(same(got.metrics[i], want.metrics[i]), "\(metric) of \(got.dimensions) for \(text): \(got.metrics[i]) vs \(want.metrics[i])")
                }
            }
            compared += 1
        }
        #expect(compared >= 15)
        #expect(visitQueries >= 10)
    }

    static func same(_ a: MetricValue, _ b: MetricValue) -> Bool {
        switch (a, b) {
        case (.money(let x), .money(let y)): x.keys.sorted() == y.keys.sorted() && x.allSatisfy { abs($0.value - y[$0.key]!) < 1e-6 }
        default: a == b
        }
    }
}
