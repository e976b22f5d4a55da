import ClarmClickHouse
import ClarmEvents
import ClarmTestSupport
import Testing

/// The schema and RowBinary rows against a real clickhouse-server (18.16 from Debian in CI).
@Suite(.serialized, .enabled(if: ClickHouseServers.isInstalled, Comment(rawValue: ClickHouseServers.skipMessage)))
struct ClickHouseTableTests {
    static func events(_ count: Int, visitors: Int = 7) -> [EventRecord] {
        (0..<count).map { i in
            let purchase = i % 5 == 0
            let properties = purchase ? #"{"amount":19.5,"currency":"EUR","amount":"\#(i)"}"# : #"{"n":\#(i)}"#
            let session = i % 3 == 0 ? "" : "s-\(i % 4)"
            let id = i % 2 == 0 ? "e-\(i)" : ""
            let time: Int64 = 1_764_000_000_000 + Int64(i) * 61_000
            return EventRecord(timestamp: time, receivedAt: 1_764_000_000_500, event: purchase ? "purchase" : "page_view",
                               visitorID: "v-\(i % visitors)", sessionID: session, eventID: id,
                               url: "https://shop.example.com/p/\(i)?utm_source=x\t", referrer: "https://www.google.com/",
                               userAgent: "Mozilla/5.0 ü", properties: properties, site: "shop.example.com")
        }
    }

    static func rows(_ events: [EventRecord]) -> [UInt8] {
        var writer = RowBinaryWriter()
        var reader = PropertyReader()
        for event in events { ClickHouseRow.append(event, key: ClickHouseRow.eventKey(event), to: &writer, reader: &reader) }
        return writer.bytes
    }

    @Test func rowsReadBackAsSentAndResentRowsCountOnce() throws {
        let servers = try ClickHouseServers(count: 1)
        defer { servers.shutdown() }
        let endpoint = try ClickHouseEndpoint(url: servers.servers[0].url, database: "clarm_t")
        _ = try ClickHouseSchema.initialize(servers: [endpoint])
        _ = try ClickHouseSchema.initialize(servers: [endpoint])  // again: harmless
        let events = Self.events(50)
        try endpoint.insert(Self.rows(events))
        try endpoint.insert(Self.rows(Array(events[10..<30])))  // a batch sent again after a lost answer

        let text = try servers.query("SELECT timestamp_ms, event, visitor_id, session_id, event_id, url, referrer, user_agent, properties, received_ms, event_key FROM clarm_t.events FINAL ORDER BY timestamp_ms FORMAT TSV")
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.count == 50)
        for (line, event) in zip(lines, events) {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            #expect(fields == [String(event.timestamp), event.event, event.visitorID, event.sessionID, event.eventID,
                               event.url.replacingTab(), event.referrer, event.userAgent, event.properties.replacingBackslash(),
                               String(event.receivedAt), ClickHouseRow.eventKey(event)])
        }
        #expect(try servers.query("SELECT count() FROM clarm_t.events") == "70\n")
        #expect(try servers.query("SELECT uniqExact(event_key) FROM clarm_t.events") == "50\n")
        // Revenue as the embedded engine counts it: the last `amount` decides, and here it is a string.
        #expect(try servers.query("SELECT sum(revenue_counts), any(currency) FROM clarm_t.events FINAL WHERE event = 'purchase' FORMAT TSV") == "0\tEUR\n")
        _ = try servers.query("OPTIMIZE TABLE clarm_t.events FINAL")
        #expect(try servers.query("SELECT count() FROM clarm_t.events") == "50\n")
    }

    @Test func revenueCountsFiniteNumbersOfPurchasesOnly() throws {
        let servers = try ClickHouseServers(count: 1)
        defer { servers.shutdown() }
        let endpoint = try ClickHouseEndpoint(url: servers.servers[0].url, database: "clarm_t")
        _ = try ClickHouseSchema.initialize(servers: [endpoint])
        let amounts = [#"{"amount":10.25}"#, #"{"amount":"5"}"#, #"{"amount":1e999}"#, #"{"amount":2,"currency":"USD"}"#, #"{"amount":true}"#]
        let events = amounts.enumerated().map { i, properties in
            EventRecord(timestamp: 1_764_000_000_000 + Int64(i), receivedAt: 0, event: "purchase", visitorID: "v", eventID: "r-\(i)",
                        url: "https://s.example/", properties: properties, site: "s.example")
        } + [EventRecord(timestamp: 1_764_000_000_100, receivedAt: 0, event: "goal_achieved", visitorID: "v", eventID: "g",
                         properties: #"{"amount":7}"#, site: "s.example")]
        try endpoint.insert(Self.rows(events))
        #expect(try servers.query("SELECT currency, sum(revenue) FROM clarm_t.events FINAL WHERE revenue_counts = 1 GROUP BY currency ORDER BY currency FORMAT TSV")
                == "USD\t2\nunknown\t10.25\n")
    }

    @Test func aClusterOfTwoShardsKeepsEachVisitorOnOneShard() throws {
        let servers = try ClickHouseServers(count: 2)
        defer { servers.shutdown() }
        let endpoints = try servers.servers.map { try ClickHouseEndpoint(url: $0.url, database: "clarm_t", cluster: ClickHouseServers.cluster) }
        #expect(throws: ClickHouseError.self) { try ClickHouseSchema.initialize(servers: [endpoints[0]]) }
        _ = try ClickHouseSchema.initialize(servers: endpoints)
        let events = Self.events(200, visitors: 40)
        try endpoints[0].insert(Self.rows(events))
        #expect(try servers.query("SELECT count() FROM clarm_t.events", server: 1) == "200\n")
        let counts = try (0..<2).map { Int(try servers.query("SELECT count() FROM clarm_t.events_local", server: $0).dropLast())! }
        #expect(counts[0] + counts[1] == 200 && counts[0] > 0 && counts[1] > 0)
        for shard in 0..<2 {
            let visitors = try servers.query("SELECT DISTINCT visitor_id FROM clarm_t.events_local ORDER BY visitor_id", server: shard)
            let other = try servers.query("SELECT DISTINCT visitor_id FROM clarm_t.events_local ORDER BY visitor_id", server: 1 - shard)
            #expect(Set(visitors.split(separator: "\n")).isDisjoint(with: other.split(separator: "\n")))
        }
    }

    @Test func loginFailuresNameTheServerNotThePassword() throws {
        let servers = try ClickHouseServers(count: 1)
        defer { servers.shutdown() }
        let wrong = try ClickHouseEndpoint(url: servers.servers[0].url, user: "clarm", password: "not-the-pass-XYZ")
        do {
            try wrong.execute("SELECT 1")
            Issue.record("a wrong password was accepted")
        } catch {
            // The server answers "Wrong password" and closes without reading the request's body, which can reset
            // the connection before the answer is read: either way the error names the server, never the password.
            #expect(error.description.contains("Wrong password") || error.description.contains("Connection reset"), "\(error)")
            #expect(error.description.contains(servers.servers[0].url))
            #expect(!error.description.contains("not-the-pass-XYZ"))
        }
        let right = try ClickHouseEndpoint(url: servers.servers[0].url, user: "clarm", password: "s3cret-pass")
        #expect(try right.execute("SELECT 1") == "1\n")
        #expect(throws: ClickHouseError.self) { try ClickHouseEndpoint(url: "http://127.0.0.1:1", database: "x; DROP") }
    }
}

extension String {
    /// How TSV writes a tab and a backslash.
    func replacingTab() -> String { replacing("\t", with: "\\t") }
    func replacingBackslash() -> String { replacing("\\", with: "\\\\") }
}
