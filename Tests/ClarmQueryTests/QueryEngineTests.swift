import Dispatch
import Foundation
import Synchronization
import Testing
import ClarmEvents
import ClarmStorage
import ClarmTestSupport
@testable import ClarmQuery

/// Appends the events to their shards and waits until every shard has them.
func append(_ store: Store, _ events: [EventRecord]) {
    var byShard: [Int: [UInt8]] = [:]
    var counts: [Int: Int] = [:]
    for event in events {
        let shard = Array(event.visitorID.utf8).withUnsafeBytes { store.shard(forVisitor: $0) }
        event.append(to: &byShard[shard, default: []])
        counts[shard, default: 0] += 1
    }
    let group = DispatchGroup()
    for (shard, records) in byShard {
        group.enter()
        store.append(shard: shard, records: records, count: counts[shard]!) { _ in group.leave() }
    }
    group.wait()
}

/// A store holding the events, partly sealed into segments and partly in memtables.
func makeStore(_ events: [EventRecord], directory: TemporaryDirectory) throws -> Store {
    var options = StoreOptions()
    options.shards = 3
    options.compactionFanIn = 1_000
    let half = events.count / 2
    let first = try Store(directory: directory.path, options: options)
    append(first, Array(events[..<half]))
    first.close()
    let store = try Store(directory: directory.path, options: options)
    append(store, Array(events[half...]))
    return store
}

func parse(_ json: String, now: Int64 = 1_793_750_400_000) throws(QueryError) -> Query {
    let result = Array(json.utf8).withUnsafeBytes { raw in Result { () throws(QueryError) in try Query.parse(raw, now: now) } }
    return try result.get()
}

@Suite struct QueryEngineTests {
    static let allMetrics = #""metrics":["visitors","visits","pageviews","events","bounce_rate","visit_duration","conversions","conversion_rate","total_revenue"]"#

    static let queries: [String] = [
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics)}"#,
        #"{"site":"shop.example.com","date_range":["2026-11-02","2026-11-03"],\#(allMetrics)}"#,
        #"{"site":"shop.example.com","date_range":["2026-11-01T12:00:00Z","2026-11-02T06:30:00Z"],\#(allMetrics),"dimensions":["time:hour"]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"dimensions":["time:day"]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"dimensions":["time:week"]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"dimensions":["time:month"]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"dimensions":["event:name"]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"dimensions":["event:page"]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"dimensions":["event:hostname"]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"dimensions":["event:props:plan"]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"dimensions":["event:props:orderId"]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"dimensions":["visit:entry_page"]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"dimensions":["visit:source"]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"dimensions":["visit:referrer"]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"dimensions":["visit:utm_source","visit:utm_medium","visit:utm_campaign"]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"dimensions":["visit:browser","visit:os","visit:device"]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"dimensions":["visit:source","time:day"]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"filters":[["is","event:name",["purchase","goal_achieved"]]]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"filters":[["contains","event:page",["/blog"]]],"dimensions":["event:page"]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"filters":[["is_not","visit:source",["Direct / None"]]],"dimensions":["event:name"]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"filters":[["contains_not","visit:entry_page",["/blog"]],["is","visit:device",["Desktop","Mobile"]]]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"filters":[["is","event:props:plan",["pro"]]],"dimensions":["time:day"]}"#,
        #"{"site":"SHOP.example.com","date_range":["2026-11-03T18:00:00Z","2026-11-04T00:00:00Z"],\#(allMetrics),"dimensions":["visit:entry_page"]}"#,
        #"{"site":"nobody.example.com","date_range":"all",\#(allMetrics)}"#,
        #"{"site":"shop.example.com","date_range":"all","metrics":["visitors","events","conversions","total_revenue"],"dimensions":["time:day"],"filters":[["is","event:name",["purchase","page_view"]],["is","event:name",["purchase"]]]}"#,
        #"{"site":"shop.example.com","date_range":"all","metrics":["visitors","pageviews"],"dimensions":["event:page"],"filters":[["is","event:name",["no_such_event"]]]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"dimensions":["visit:source"],"attribution":"first_touch"}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"dimensions":["visit:source","visit:entry_page"],"attribution":"last_touch"}"#,
        #"{"site":"shop.example.com","date_range":["2026-11-02","2026-11-04"],\#(allMetrics),"dimensions":["visit:entry_page"],"attribution":"first_touch"}"#,
        #"{"site":"shop.example.com","date_range":["2026-11-02T12:00:00Z","2026-11-04"],\#(allMetrics),"filters":[["is","visit:source",["google"]]],"attribution":"last_touch"}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"dimensions":["visit:channel"]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"dimensions":["visit:channel","visit:source"]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"dimensions":["visit:source"],"filters":[["is","visit:channel",["Organic Search","Organic Social"]]]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"dimensions":["visit:channel"],"filters":[["contains","visit:channel",["Paid"]],["is_not","visit:source",["Google"]]]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"dimensions":["event:name"],"filters":[["contains_not","visit:channel",["Direct","Referral"]]]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"dimensions":["visit:channel"],"attribution":"first_touch"}"#,
        #"{"site":"shop.example.com","date_range":["2026-11-02","2026-11-04"],\#(allMetrics),"dimensions":["visit:channel","visit:source"],"attribution":"last_touch"}"#,
        #"{"site":"shop.example.com","date_range":"all","metrics":["visitors","events","views_per_visit"],"dimensions":["event:props:plan","event:props:currency"],"filters":[["matches","event:props:orderId",["^o-1","^(none)$"]]]}"#,
        #"{"site":"shop.example.com","date_range":"all",\#(allMetrics),"dimensions":["event:page"],"filters":[["matches","event:page",["^/blog/post-[0-9]$","^/$"]],["matches_not","visit:source",["oo"]]]}"#,
    ]

    @Test func matchesTheReferenceOnEveryQuery() throws {
        let events = generateEvents(seed: 11, visitors: 400)
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try makeStore(events, directory: directory)
        defer { store.close() }
        #expect(store.snapshot().contains { !$0.segments.isEmpty } && store.snapshot().contains { $0.memtables.contains { $0.count > 0 } })
        let engine = QueryEngine(store: store)
        for text in Self.queries {
            let query = try parse(text)
            let result = try engine.run(query)
            let expected = QueryReference.run(events, query)
            #expect(result.totalRows == expected.count, "\(text)")
            var actual: [[String]: [MetricValue]] = [:]
            for row in result.rows { actual[row.dimensions] = row.metrics }
            for (key, metrics) in expected {
                guard let got = actual[key] else {
                    Issue.record("missing group \(key) for \(text)")
                    continue
                }
                for (i, metric) in query.metrics.enumerated() {
                    #expect(same(got[i], metrics[i]), "\(metric) of \(key) for \(text): \(got[i]) vs \(metrics[i])")
                }
            }
        }
    }

    func same(_ a: MetricValue, _ b: MetricValue) -> Bool {
        switch (a, b) {
        case (.money(let x), .money(let y)): x.keys.sorted() == y.keys.sorted() && x.allSatisfy { abs($0.value - y[$0.key]!) < 1e-6 }
        default: a == b
        }
    }

    @Test func ordersAndPages() throws {
        let events = generateEvents(seed: 5, visitors: 120)
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try makeStore(events, directory: directory)
        defer { store.close() }
        let engine = QueryEngine(store: store)
        let all = try engine.run(try parse(#"{"site":"shop.example.com","date_range":"all","metrics":["visitors","events"],"dimensions":["event:page"]}"#))
        let visitors = all.rows.map { if case .count(let n) = $0.metrics[0] { n } else { -1 } }
        #expect(visitors == visitors.sorted(by: >), "default order: first metric descending")
        let page = try engine.run(try parse(#"{"site":"shop.example.com","date_range":"all","metrics":["visitors","events"],"dimensions":["event:page"],"order_by":[["event:page","asc"]],"limit":2,"offset":1}"#))
        #expect(page.totalRows == all.totalRows)
        #expect(page.rows.map(\.dimensions) == Array(all.rows.map(\.dimensions).sorted { $0.lexicographicallyPrecedes($1) }[1...2]))
        let days = try engine.run(try parse(#"{"site":"shop.example.com","date_range":"all","metrics":["events"],"dimensions":["time:day"]}"#))
        #expect(days.rows.map(\.dimensions) == days.rows.map(\.dimensions).sorted { $0.lexicographicallyPrecedes($1) })
    }

    @Test(arguments: [
        (#"{"metrics":["visitors"]}"#, "site: required"),
        (#"{"site":"s","metrics":["visitorz"]}"#, "metrics[0]: unknown metric 'visitorz'"),
        (#"{"site":"s","metrics":[]}"#, "metrics: required"),
        (#"{"site":"s","metrics":["visitors"],"dimensions":["event:nope"]}"#, "dimensions[0]: unknown dimension 'event:nope'"),
        (#"{"site":"s","metrics":["visitors"],"date_range":"9d"}"#, "date_range: must be"),
        (#"{"site":"s","metrics":["visitors"],"date_range":["2026-11-02","2026-11-01"]}"#, "date_range: the start must come before the end"),
        (#"{"site":"s","metrics":["visitors"],"date_range":["yesterday","2026-11-01"]}"#, "date_range: each end"),
        (#"{"site":"s","metrics":["visitors"],"filters":[["like","event:name",["x"]]]}"#, "filters[0]: unknown operator 'like'"),
        (#"{"site":"s","metrics":["visitors"],"filters":[["is","event:name","x"]]}"#, "filters[0]: values must be"),
        (#"{"site":"s","metrics":["visitors"],"order_by":[["events","desc"]]}"#, "order_by[0]: events is not one of"),
        (#"{"site":"s","metrics":["visitors"],"limit":0}"#, "limit: must be an integer"),
        (#"{"site":"s","metrics":["visitors"],"limit":"10"}"#, "limit: must be an integer"),
        (#"{"site":"s","metrics":["visitors"],"extra":1}"#, "extra: unknown field"),
        (#"{"site":"s","metrics":["visitors"],"#, "body: invalid JSON at byte 35"),
        (#"[1]"#, "body: must be a JSON object"),
    ])
    func badQueriesNameTheField(_ text: String, _ message: String) {
        do throws(QueryError) {
            _ = try parse(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.description.hasPrefix(message), "\(error.description)")
        }
    }

    @Test func relativeRanges() throws {
        let now: Int64 = 1_793_866_759_685  // 2026-11-05T08:19:19.685Z
        let day: Int64 = 86_400_000
        let midnight: Int64 = 1_793_836_800_000
        #expect(try parse(#"{"site":"s","metrics":["visitors"],"date_range":"day"}"#, now: now).from == midnight)
        let week = try parse(#"{"site":"s","metrics":["visitors"],"date_range":"7d"}"#, now: now)
        #expect(week.from == midnight - 6 * day && week.to == midnight + day)
        #expect(try parse(#"{"site":"s","metrics":["visitors"]}"#, now: now).from == midnight - 29 * day)
        let dates = try parse(#"{"site":"s","metrics":["visitors"],"date_range":["2026-11-05","2026-11-05T12:00:00+02:00"]}"#, now: now)
        #expect(dates.from == midnight && dates.to == midnight + 10 * 3_600_000)
    }

    @Test(arguments: [
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome", "Windows", "Desktop"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "Edge", "Windows", "Desktop"),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", "Safari", "macOS", "Desktop"),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "Safari", "iOS", "Mobile"),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", "Chrome", "iOS", "Mobile"),
        ("Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "Safari", "iOS", "Tablet"),
        ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", "Chrome", "Android", "Mobile"),
        ("Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome", "Android", "Tablet"),
        ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", "Samsung Internet", "Android", "Mobile"),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0", "Firefox", "Linux", "Desktop"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0", "Opera", "Windows", "Desktop"),
        ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome", "Chrome OS", "Desktop"),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Bot", "Other", "Desktop"),
        ("curl/8.5.0", "curl", "Other", "Desktop"),
        ("", "(none)", "(none)", "(none)"),
    ])
    func classifiesUserAgents(_ agent: String, _ browser: String, _ os: String, _ device: String) {
        #expect(UserAgent(agent) == UserAgent(browser: browser, os: os, device: device))
    }
}

extension UserAgent {
    init(browser: String, os: String, device: String) {
        self = UserAgent.make(browser: browser, os: os, device: device)
    }
}
