import Foundation
import Testing
import ClarmEvents
import ClarmGateway
import ClarmQuery
import ClarmServer
import ClarmStorage
import ClarmTestSupport

/// `POST /api/v2/query` in Plausible's documented shapes, over real sockets: answers compared with `/api/query`'s
/// and with the reference, errors and limits pushed past.
@Suite struct PlausibleRouteTests {
    static let events = generateEvents(seed: 41, visitors: 150)
    /// The generated events' month, both ends included (Plausible's dates) and as Clarm's `[from, to)`.
    static let range = #""date_range":["2026-10-01","2026-12-31"]"#
    static let clarmRange = #""date_range":["2026-10-01","2027-01-01"]"#
    static let metrics = #"["visitors","visits","pageviews","events","bounce_rate","visit_duration","views_per_visit","conversion_rate"]"#

    static func load(_ client: TestClient) throws {
        for start in stride(from: 0, to: events.count, by: 200) {
            let batch = events[start..<min(events.count, start + 200)].map(QueryRouteTests.json).joined(separator: ",")
            #expect(try QueryRouteTests.post(client, "/api/track", "[\(batch)]").status == 202)
        }
    }

    static func object(_ response: TestResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]) ?? [:]
    }

    /// Rows as (dimensions, metrics as numbers), in order.
    static func rows(_ answer: [String: Any]) -> [([String], [Double])] {
        (answer["results"] as? [[String: Any]] ?? []).map { row in
            (row["dimensions"] as? [String] ?? [], (row["metrics"] as? [Any] ?? []).map { ($0 as? NSNumber)?.doubleValue ?? .nan })
        }
    }

    static func number(_ value: MetricValue) -> Double {
        switch value {
        case .count(let n): Double(n)
        case .decimal(let d): d
        case .money: .nan
        }
    }

    /// Posts a v2 request; checks its rows against the reference over the Clarm query `clarm` (with `tree`, when
    /// the v2 filters nest) and, when `clarm` alone expresses it, against `/api/query`'s answer row by row.
    static func check(_ client: TestClient, v2: String, clarm: String, tree: Query.FilterTree? = nil, paged: Bool = false,
                      ignoringCase: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let response = try QueryRouteTests.post(client, "/api/v2/query", v2)
        #expect(response.status == 200, "\(response.text)", sourceLocation: sourceLocation)
        let got = rows(object(response))
        var query = try Array(clarm.utf8).withUnsafeBytes { raw in try Query.parse(raw, now: 0) }
        query.filterTree = tree
        if ignoringCase {
            query.filters = try query.filters.map { filter throws(QueryError) in
                try Query.Filter(op: filter.op, dimension: filter.dimension, values: filter.values, caseSensitive: false, field: "")
            }
        }
        let expected = QueryReference.run(events, query)
        #expect(!expected.isEmpty, "the reference finds groups for \(v2)", sourceLocation: sourceLocation)
        if paged {
            #expect(Set(got.map(\.0)).isSubset(of: expected.keys), "groups of \(v2)", sourceLocation: sourceLocation)
        } else {
            #expect(Set(got.map(\.0)) == Set(expected.keys), "groups of \(v2)", sourceLocation: sourceLocation)
        }
        for (key, values) in got {
            let wanted = expected[key]?.map(number) ?? []
            #expect(values.count == wanted.count && zip(values, wanted).allSatisfy { abs($0 - $1) < 1e-9 }, "\(key) in \(v2): \(values) vs \(wanted)",
                    sourceLocation: sourceLocation)
        }
        if tree == nil && !ignoringCase {
            let direct = try QueryRouteTests.post(client, "/api/query", clarm)
            #expect(direct.status == 200, "\(direct.text)", sourceLocation: sourceLocation)
            let same = rows(object(direct))
            #expect(got.map(\.0) == same.map(\.0) && got.map(\.1) == same.map(\.1), "order and values of \(v2)", sourceLocation: sourceLocation)
        }
    }

    @Test func answersMatchApiQueryAndTheReference() throws {
        try withGateway { port, _ in
            let client = try TestClient(port: port)
            try Self.load(client)
            // Plausible's documented examples, on this data.
            try Self.check(client, v2: #"{"site_id":"shop.example.com","metrics":\#(Self.metrics),\#(Self.range)}"#,
                           clarm: #"{"site":"shop.example.com","metrics":\#(Self.metrics),\#(Self.clarmRange)}"#)
            try Self.check(client, v2: #"{"site_id":"shop.example.com","metrics":["visitors","bounce_rate"],\#(Self.range),"dimensions":["visit:source"],"filters":[["is_not","visit:source",["Direct / None"]]]}"#,
                           clarm: #"{"site":"shop.example.com","metrics":["visitors","bounce_rate"],\#(Self.clarmRange),"dimensions":["visit:source"],"filters":[["is_not","visit:source",["Direct / None"]]]}"#)
            try Self.check(client, v2: #"{"site_id":"shop.example.com","metrics":["visitors","pageviews"],\#(Self.range),"dimensions":["time:day"],"order_by":[["pageviews","desc"]],"pagination":{"limit":2,"offset":1}}"#,
                           clarm: #"{"site":"shop.example.com","metrics":["visitors","pageviews"],\#(Self.clarmRange),"dimensions":["time:day"],"order_by":[["pageviews","desc"]],"limit":2,"offset":1}"#, paged: true)
            // Several property dimensions in one query.
            try Self.check(client, v2: #"{"site_id":"shop.example.com","metrics":["visitors","events"],\#(Self.range),"dimensions":["event:props:plan","event:props:currency","visit:channel"]}"#,
                           clarm: #"{"site":"shop.example.com","metrics":["visitors","events"],\#(Self.clarmRange),"dimensions":["event:props:plan","event:props:currency","visit:channel"]}"#)
            // matches and matches_not, with a filter on a second property key.
            try Self.check(client, v2: #"{"site_id":"shop.example.com","metrics":["visitors","views_per_visit"],\#(Self.range),"dimensions":["event:page"],"filters":[["matches","event:page",["^/blog/post-[0-9]+$","^/$"]],["matches_not","event:props:plan",["^fr"]],["is","event:name",["page_view","purchase"],{"case_sensitive":true}]]}"#,
                           clarm: #"{"site":"shop.example.com","metrics":["visitors","views_per_visit"],\#(Self.clarmRange),"dimensions":["event:page"],"filters":[["matches","event:page",["^/blog/post-[0-9]+$","^/$"]],["matches_not","event:props:plan",["^fr"]],["is","event:name",["page_view","purchase"]]]}"#)
            // {"case_sensitive": false} on every kind of filter.
            try Self.check(client, v2: #"{"site_id":"shop.example.com","metrics":["visitors","events"],\#(Self.range),"dimensions":["visit:browser","event:page"],"filters":[["contains","event:page",["BLOG","/Pricing"],{"case_sensitive":false}],["matches","visit:browser",["^fire","^CHR[a-z]+$"],{"case_sensitive":false}],["is_not","event:name",["PAGE_VIEW"],{"case_sensitive":false}]]}"#,
                           clarm: #"{"site":"shop.example.com","metrics":["visitors","events"],\#(Self.clarmRange),"dimensions":["visit:browser","event:page"],"filters":[["contains","event:page",["BLOG","/Pricing"]],["matches","visit:browser",["^fire","^CHR[a-z]+$"]],["is_not","event:name",["PAGE_VIEW"]]]}"#,
                           ignoringCase: true)
            // or, not and and nested; the leaves in order, the tree by hand.
            try Self.check(client, v2: #"{"site_id":"shop.example.com","metrics":["visitors","visits","bounce_rate"],\#(Self.range),"dimensions":["visit:device"],"filters":[["or",[["is","visit:browser",["Firefox"]],["and",[["contains","event:page",["/blog"]],["not",["is","event:name",["click"]]]]]]],["is_not","visit:channel",["Direct"]]]}"#,
                           clarm: #"{"site":"shop.example.com","metrics":["visitors","visits","bounce_rate"],\#(Self.clarmRange),"dimensions":["visit:device"],"filters":[["is","visit:browser",["Firefox"]],["contains","event:page",["/blog"]],["is","event:name",["click"]],["is_not","visit:channel",["Direct"]]]}"#,
                           tree: .and([.or([.filter(0), .and([.filter(1), .not(.filter(2))])]), .filter(3)]))
        }
    }

    @Test func answersInPlausiblesShape() throws {
        try withGateway { port, _ in
            let client = try TestClient(port: port)
            try Self.load(client)
            let body = #"{"site_id":"shop.example.com","metrics":["visitors"],"date_range":["2026-11-01","2026-11-07"],"dimensions":["time"],"include":{"time_labels":true,"total_rows":true}}"#
            let response = try QueryRouteTests.post(client, "/api/v2/query", body)
            #expect(response.status == 200, "\(response.text)")
            let answer = Self.object(response)
            let meta = answer["meta"] as? [String: Any] ?? [:]
            #expect(meta["time_labels"] as? [String] == (1...7).map { "2026-11-0\($0)" }, "a week's range is bucketed by day")
            let days = Self.rows(answer).map { $0.0[0] }
            #expect(days.count > 2 && days == days.sorted() && days.allSatisfy { (meta["time_labels"] as? [String] ?? []).contains($0) })
            #expect(meta["total_rows"] as? Int == days.count)
            let echoed = answer["query"] as? [String: Any] ?? [:]
            #expect(echoed["site_id"] as? String == "shop.example.com")
            #expect(echoed["date_range"] as? [String] == ["2026-11-01T00:00:00+00:00", "2026-11-07T23:59:59+00:00"])
            #expect(echoed["dimensions"] as? [String] == ["time"])

            // One day: hours, labelled as Plausible labels them; in Berlin the fall-back day has 25.
            let day = try QueryRouteTests.post(client, "/api/v2/query", #"{"site_id":"shop.example.com","metrics":["visitors"],"date_range":["2026-11-02","2026-11-02"],"dimensions":["time"],"include":{"time_labels":true}}"#)
            let hours = (Self.object(day)["meta"] as? [String: Any])?["time_labels"] as? [String] ?? []
            #expect(hours.count == 24 && hours.first == "2026-11-02 00:00:00" && hours.last == "2026-11-02 23:00:00")
            #expect(Self.rows(Self.object(day)).allSatisfy { hours.contains($0.0[0]) })
            let fallBack = try QueryRouteTests.post(client, "/api/v2/query", #"{"site_id":"shop.example.com","metrics":["visitors"],"date_range":["2026-10-25","2026-10-25"],"dimensions":["time:hour"],"timezone":"Europe/Berlin","include":{"time_labels":true}}"#)
            let berlin = (Self.object(fallBack)["meta"] as? [String: Any])?["time_labels"] as? [String] ?? []
            #expect(berlin.count == 25 && berlin.filter { $0 == "2026-10-25 02:00:00" }.count == 2, "\(berlin)")
            let months = try QueryRouteTests.post(client, "/api/v2/query", #"{"site_id":"shop.example.com","metrics":["visitors"],"date_range":["2026-09-15","2026-12-31"],"dimensions":["time:month"],"include":{"time_labels":true}}"#)
            #expect((Self.object(months)["meta"] as? [String: Any])?["time_labels"] as? [String] == ["2026-09-01", "2026-10-01", "2026-11-01", "2026-12-01"])
            #expect(Self.rows(Self.object(months)).map(\.0) == [["2026-11-01"]])
        }
    }

    /// Each bad request gets a 400 whose error names the problem, as Plausible's do.
    @Test func refusesWhatItCannotAnswer() throws {
        let deep = (0..<6).reduce(#"["is","event:name",["x"]]"#) { inner, _ in #"["not",\#(inner)]"# }
        let wide = "[" + Array(repeating: #"["is","event:name",["x"]]"#, count: 70).joined(separator: ",") + "]"
        let twentyOne = "[" + Array(repeating: #"["is","event:name",["x"]]"#, count: 21).joined(separator: ",") + "]"
        let longPattern = String(repeating: "a", count: 257)
        let manyPatterns = "[" + (0..<5).map { _ in "\"" + String(repeating: "b", count: 250) + "\"" }.joined(separator: ",") + "]"
        let cases: [(String, String)] = [
            (#""metrics":["visitorz"],"date_range":"7d""#, #"#/metrics/0: Invalid metric "visitorz""#),
            (#""metrics":["scroll_depth"],"date_range":"7d""#, #"#/metrics/0: Unsupported metric"#),
            (#""metrics":["visitors"],"date_range":"3w""#, "#/date_range: Invalid date_range"),
            (#""metrics":["visitors"],"date_range":["2026-11-02","2026-11-01"]"#, "#/date_range: Invalid date_range: the start"),
            (#""metrics":["visitors"],"date_range":["2026-11-02","2026-11-03T00:00:00Z"]"#, "#/date_range"),
            (#""metrics":["visitors"]"#, "#: Required properties date_range"),
            (#""metrics":["visitors"],"date_range":"7d","dimensions":["visit:utm_term"]"#, #"#/dimensions/0: Unsupported dimension "visit:utm_term""#),
            (#""metrics":["visitors"],"date_range":"7d","dimensions":["visit:region"]"#, #"#/dimensions/0: Unsupported dimension "visit:region": Clarm stores the region's name"#),
            (#""metrics":["visitors"],"date_range":"7d","dimensions":["visit:nope"]"#, "#/dimensions/0: Invalid dimension"),
            (#""metrics":["visitors"],"date_range":"7d","filters":[\#(deep)]"#, "Filters nest too deep"),
            (#""metrics":["visitors"],"date_range":"7d","filters":[["or",\#(wide)]]"#, "Too many filters"),
            (#""metrics":["visitors"],"date_range":"7d","filters":\#(twentyOne)"#, "#/filters: at most 20 filters"),
            (#""metrics":["visitors"],"date_range":"7d","filters":[["matches","event:page",["\#(longPattern)"]]]"#, "at most 256"),
            (#""metrics":["visitors"],"date_range":"7d","filters":[["matches","event:page",["a{2}"]]]"#, "counted repetition"),
            (#""metrics":["visitors"],"date_range":"7d","filters":[["matches","event:page",\#(manyPatterns)]]"#, "#/filters: patterns take 1250 bytes; at most 1024"),
            (#""metrics":["visitors"],"date_range":"7d","dimensions":["time","event:page","event:name","visit:source","visit:device"]"#, "#/dimensions: at most 4"),
            (#""metrics":["visitors"],"date_range":"7d","filters":[["is","event:page",["/"],{"case_sensitive":"no"}]]"#, "#/filters/0/3/case_sensitive: Expected a boolean"),
            (#""metrics":["visitors"],"date_range":"7d","filters":[["has_done",["is","event:name",["x"]]]]"#, "Unsupported filter operator"),
            (#""metrics":["visitors"],"date_range":"7d","pagination":{"limit":10001}"#, "#/pagination/limit"),
            (#""metrics":["visitors"],"date_range":"7d","pagination":{"offset":-1}"#, "#/pagination/offset"),
            (#""metrics":["visitors"],"date_range":"7d","include":{"time_labels":true}"#, "requires a time dimension"),
            (#""metrics":["visitors"],"date_range":["2000-01-01","2026-01-01"],"dimensions":["time:hour"],"include":{"time_labels":true}"#, "too many hours"),
            (#""metrics":["visitors"],"date_range":"7d","include":{"comparisons":{"mode":"previous_period"}}"#, "#/include/comparisons: Unsupported"),
            (#""metrics":["visitors"],"date_range":"7d","order_by":[["visits","desc"]]"#, "#/order_by/0"),
            (#""metrics":["visitors"],"date_range":"7d","sample":1"#, "additional properties"),
        ]
        try withGateway { port, _ in
            let client = try TestClient(port: port)
            for (fields, message) in cases {
                let response = try QueryRouteTests.post(client, "/api/v2/query", #"{"site_id":"shop.example.com",\#(fields)}"#)
                #expect(response.status == 400, "\(fields)")
                let error = Self.object(response)["error"] as? String ?? ""
                #expect(error.contains(message), "\(fields): \(error)")
            }
            // The server still answers.
            #expect(try QueryRouteTests.post(client, "/api/v2/query", #"{"site_id":"s","metrics":["visitors"],"date_range":"day"}"#).status == 200)
        }
    }

    /// `(a*)*b` over long values: a backtracking engine takes exponential time; this one a pass per distinct value.
    @Test func pathologicalPatternsFinishFast() throws {
        try withGateway { port, _ in
            let client = try TestClient(port: port)
            let long = String(repeating: "a", count: 8000)
            let batch = (0..<50).map { i in
                #"{"event":"page_view","visitor_id":"v\#(i)","url":"https://shop.example.com/\#(long.dropFirst(i))","timestamp":"2026-11-05T08:00:00Z","properties":{"note":"\#(long)\#(i)"}}"#
            }.joined(separator: ",")
            #expect(try QueryRouteTests.post(client, "/api/track", "[\(batch)]").status == 202)
            let started = Date()
            for pattern in ["(a*)*b", "(a|aa)+$", "^(a+)+b$"] {
                let body = #"{"site_id":"shop.example.com","metrics":["visitors"],"date_range":["2026-11-05","2026-11-05"],"filters":[["or",[["matches","event:page",["\#(pattern)"]],["matches","event:props:note",["\#(pattern)"]]]]]}"#
                let response = try QueryRouteTests.post(client, "/api/v2/query", body)
                #expect(response.status == 200, "\(response.text)")
                let count = Self.rows(Self.object(response)).first?.1.first
                #expect(count == (pattern == "(a|aa)+$" ? 50 : 0), "\(pattern)")
            }
            #expect(Date().timeIntervalSince(started) < 10)
        }
    }

    @Test func keysAndHostsGuardTheRoute() throws {
        let access = GatewayAccess(apiKeys: ["k-one"], listenHost: "127.0.0.1")
        try withGateway(access: access) { port, _ in
            let client = try TestClient(port: port)
            let body = #"{"site_id":"s","metrics":["visitors"],"date_range":"7d"}"#
            #expect(try QueryRouteTests.post(client, "/api/v2/query", body).status == 401)
            #expect(try QueryRouteTests.post(client, "/api/v2/query", body, key: "k-on").status == 401)
            #expect(try QueryRouteTests.post(client, "/api/v2/query", body, key: "k-one").status == 200)
            try client.send("POST /api/v2/query HTTP/1.1\r\nHost: evil.example\r\nAuthorization: Bearer k-one\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            #expect(try client.readResponse()?.status == 421)
            try client.send("GET /api/v2/query HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer k-one\r\n\r\n")
            #expect(try client.readResponse()?.status == 405)
        }
    }
}
