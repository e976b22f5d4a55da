import Dispatch
import Foundation
import Testing
import ClarmEvents
import ClarmGateway
import ClarmStorage
import ClarmSystem

/// Query budgets over real sockets: caps on the query's shape (400), the row cap (422), the deadline (504),
/// the queue (503), cancellation on disconnect, and ingestion staying responsive under heavy queries.
@Suite(.serialized) struct QueryBudgetTests {
    static let site = "shop.example.com"
    /// A query that forms visits from every event of the site: the heaviest kind.
    static let heavy = #"{"site":"shop.example.com","date_range":"all","metrics":["visitors","visits","bounce_rate","visit_duration"],"dimensions":["visit:source","visit:browser"]}"#

    /// Puts `count` events of many visitors straight into the store's shards; `longPaths` makes every path distinct
    /// and that many bytes long.
    static func fill(_ store: Store, events count: Int, longPaths: Int? = nil) {
        var perShard = [[UInt8]](repeating: [], count: store.shardCount)
        var counts = [Int](repeating: 0, count: store.shardCount)
        for n in 0..<count {
            let visitor = "visitor-\(n % (count / 10 + 1))"
            let event = EventRecord(
                timestamp: 1_790_812_800_000 + Int64(n) * 1_000, receivedAt: 0, event: "page_view", visitorID: visitor,
                sessionID: "s-\(n / 7)",
                url: "https://\(site)/page/\(longPaths.map { String(n) + String(repeating: "x", count: $0) } ?? String(n % 50))?utm_source=s\(n % 13)",
                referrer: n % 3 == 0 ? "https://www.google.com/" : "", userAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
                site: site)
            let shard = Array(visitor.utf8).withUnsafeBytes { store.shard(forVisitor: $0) }
            event.append(to: &perShard[shard])
            counts[shard] += 1
        }
        let done = DispatchGroup()
        for shard in 0..<store.shardCount where counts[shard] > 0 {
            done.enter()
            store.append(shard: shard, records: perShard[shard], count: counts[shard]) { _ in done.leave() }
        }
        done.wait()
    }

    static func post(_ port: Int, _ body: String) throws -> TestResponse {
        try QueryRouteTests.post(TestClient(port: port, receiveTimeout: 30), "/api/query", body)
    }

    static func metric(_ port: Int, _ line: String) throws -> Int? {
        let client = try TestClient(port: port)
        try client.send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        guard let text = try client.readResponse()?.text else { return nil }
        return text.split(separator: "\n").first { $0.hasPrefix(line + " ") }.flatMap { Int($0.split(separator: " ").last!) }
    }

    /// Query members past each cap, and the answer's error.
    static let pastTheCaps = [
        (#""dimensions":["time:day","event:page","event:name","visit:source","visit:device"]"#, "dimensions: at most 4 dimensions"),
        (#""filters":[\#(Array(repeating: #"["is","event:name",["a"]]"#, count: 21).joined(separator: ","))]"#, "filters: at most 20 filters"),
        (#""filters":[["is","event:page",[\#((0...100).map { "\"/p\($0)\"" }.joined(separator: ","))]]]"#, "filters[0]: at most 100 values per filter"),
        (#""filters":[["contains","event:page",["\#(String(repeating: "x", count: 9000))"]],["is","event:name",["\#(String(repeating: "y", count: 9000))"]]]"#,
         "filters: filter values take 18000 bytes; at most 16384 in all"),
        (#""limit":10001"#, "limit: must be an integer in 1...10000"),
    ]

    @Test(arguments: pastTheCaps.indices)
    func capsOnTheQueryAreAnswered400(_ index: Int) throws {
        let (member, error) = Self.pastTheCaps[index]
        try withGateway { port, _ in
            let response = try Self.post(port, #"{"site":"shop.example.com","metrics":["visitors"],\#(member)}"#)
            #expect(response.status == 400)
            #expect(response.text == #"{"error":"\#(error)"}"#)
        }
    }

    @Test func aQueryHoldingTooManyRowsIsAnswered422() throws {
        var options = GatewayOptions()
        options.queryMaxRows = 500
        try withGateway(gateway: options) { port, store in
            Self.fill(store, events: 2_000)
            let response = try Self.post(port, Self.heavy)
            #expect(response.status == 422)
            #expect(response.text.contains("narrow the range or add filters"), "\(response.text)")
            // A query within the cap still answers.
            let small = try Self.post(port, #"{"site":"shop.example.com","date_range":["2026-10-01","2026-10-01T00:05:00Z"],"metrics":["visitors"]}"#)
            #expect(small.status == 200, "\(small.text)")
            #expect(try Self.metric(port, #"clarm_queries_stopped_total{reason="too_many_rows"}"#) == 1)
        }
    }

    /// Few rows of long distinct values hold memory too: they count against the same cap.
    @Test func longDistinctValuesCountAgainstTheRowCap() throws {
        var options = GatewayOptions()
        options.queryMaxRows = 1_000
        try withGateway(gateway: options) { port, store in
            Self.fill(store, events: 200, longPaths: 2_000)
            let response = try Self.post(port, #"{"site":"shop.example.com","date_range":"all","metrics":["pageviews"],"dimensions":["event:page"]}"#)
            #expect(response.status == 422, "\(response.text)")
        }
    }

    @Test func aQueryPastItsDeadlineIsAnswered504() throws {
        // The same query without a deadline, for how long the whole scan takes on this machine now.
        var whole: Int64 = 0
        try withGateway { port, store in
            Self.fill(store, events: 30_000)
            let started = monotonicMilliseconds()
            let response = try Self.post(port, Self.heavy)
            #expect(response.status == 200)
            whole = monotonicMilliseconds() - started
        }
        var options = GatewayOptions()
        options.queryTimeoutMilliseconds = 30
        try withGateway(gateway: options) { port, store in
            Self.fill(store, events: 30_000)
            let started = monotonicMilliseconds()
            let response = try Self.post(port, Self.heavy)
            let took = monotonicMilliseconds() - started
            #expect(response.status == 504)
            #expect(response.text.contains("query timeout of 0.03 s"), "\(response.text)")
            // Stopped soon after the deadline, not after the whole scan (compared on the same machine, same load).
            #expect(took < max(100, whole / 2), "timed out after \(took) ms; the whole scan takes \(whole) ms")
            #expect(try Self.metric(port, #"clarm_queries_stopped_total{reason="timeout"}"#) == 1)
        }
    }

    @Test func aClientThatLeavesCancelsItsQuery() throws {
        var options = GatewayOptions()
        options.queryConcurrency = 1
        try withGateway(gateway: options) { port, store in
            Self.fill(store, events: 30_000)
            let client = try TestClient(port: port)
            try client.send("POST /api/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(Self.heavy.utf8.count)\r\n\r\n\(Self.heavy)")
            // Leave while the query runs (or waits): long enough for the server to have read the request, far
            // shorter than the scan of 30,000 events.
            usleep(10_000)
            client.hangUp()
            let deadline = monotonicMilliseconds() + 5_000
            var cancelled = 0
            while monotonicMilliseconds() < deadline {
                cancelled = try Self.metric(port, #"clarm_queries_stopped_total{reason="cancelled"}"#) ?? 0
                if cancelled == 1 { break }
                usleep(20_000)
            }
            #expect(cancelled == 1)
            // The only query thread is free again: a small query answers at once.
            let small = try Self.post(port, #"{"site":"shop.example.com","date_range":["2026-10-01","2026-10-01T00:05:00Z"],"metrics":["visitors"]}"#)
            #expect(small.status == 200)
        }
    }

    /// Twenty heavy queries at once: two run, sixteen wait, two are refused with 503 and Retry-After, and health
    /// checks and tracking requests keep answering promptly meanwhile.
    @Test func heavyQueriesLeaveIngestionAnswering() throws {
        var options = GatewayOptions()
        options.queryConcurrency = 2
        options.queryQueue = 16
        try withGateway(gateway: options) { port, store in
            Self.fill(store, events: 30_000)
            let clients = try (0..<20).map { _ in try TestClient(port: port, receiveTimeout: 30) }
            for client in clients {
                try client.send("POST /api/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(Self.heavy.utf8.count)\r\n\r\n\(Self.heavy)")
            }
            usleep(100_000)
            #expect(try Self.metric(port, "clarm_queries_running") == 2)
            #expect(try Self.metric(port, "clarm_query_queue_length") == 16)
            let probe = try TestClient(port: port)
            var slowest: Int64 = 0
            for n in 0..<10 {
                let started = monotonicMilliseconds()
                try probe.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                #expect(try probe.readResponse()?.status == 200)
                try probe.send(trackRequest(BotRouteTests.event("probe-\(n)", userAgent: BotRouteTests.browser)))
                #expect(try probe.readResponse()?.status == 202)
                slowest = max(slowest, monotonicMilliseconds() - started)
            }
            #expect(slowest < 500, "slowest health check and track: \(slowest) ms")
            // The two beyond the queue were answered at once.
            var refused = 0
            for client in clients {
                var readable = pollfd(fd: client.fd, events: Int16(POLLIN), revents: 0)
                guard poll(&readable, 1, 0) == 1, let response = try client.readResponse() else { continue }
                #expect(response.status == 503)
                #expect(response.header("Retry-After") == "1")
                #expect(response.text.contains("too many queries at once"))
                refused += 1
            }
            #expect(refused == 2)
            // Leaving cancels the rest, so the test ends without waiting for them.
            for client in clients { client.hangUp() }
        }
    }
}
