import Dispatch
import Foundation
import Testing
import ClarmEvents
import ClarmGateway
import ClarmQuery
import ClarmStorage
import ClarmTestSupport

/// POST /api/funnel over HTTP, against `FunnelReference`, its errors and its budgets.
@Suite(.serialized) struct FunnelRouteTests {
    static let site = "shop.example.com"

    /// Funnels of every kind: windows from 30 minutes to 90 days, zones, funnel-wide filters, 2 to 8 steps,
    /// every operator and event dimension.
    static let funnels = [
        #"{"site":"shop.example.com","date_range":"all","steps":[{"name":"Pricing","filters":[["is","event:page",["/pricing"]]]},{"filters":[["is","event:name",["purchase"]]]}]}"#,
        #"{"site":"shop.example.com","date_range":["2026-11-01","2026-11-03"],"timezone":"America/New_York","window":"30m","filters":[["is","event:hostname",["shop.example.com"]]],"steps":[{"filters":[["is","event:name",["page_view"]]]},{"filters":[["contains","event:page",["blog"]]]},{"filters":[["is","event:name",["purchase"]]]}]}"#,
        #"{"site":"shop.example.com","date_range":["2026-11-02T06:00:00Z","2026-11-05T00:00:00Z"],"timezone":"Asia/Kolkata","window":"1h","filters":[["is_not","event:name",["identify"]]],"steps":[{"filters":[["is","event:page",["/"]]]},{"filters":[["matches","event:page",["^/blog","^/docs$"]]]},{"filters":[["is","event:name",["click","widget_open"]]]},{"filters":[["is_not","event:props:plan",["free"]],["contains_not","event:page",["thank"]]]}]}"#,
        #"{"site":"shop.example.com","date_range":"all","window":"1d","steps":[{"filters":[["is","event:name",["page_view"]]]},{"filters":[["is","event:name",["page_view"]]]},{"filters":[["is","event:name",["page_view"]]]},{"filters":[["is","event:name",["page_view"]]]},{"filters":[["is","event:name",["page_view"]]]},{"filters":[["is","event:name",["page_view"]]]},{"filters":[["is","event:name",["page_view"]]]},{"filters":[["is","event:name",["page_view"]]]}]}"#,
        #"{"site":"shop.example.com","date_range":"all","window":"90d","steps":[{"filters":[["is","event:props:plan",["pro","(none)"]]]},{"filters":[["is","event:name",["purchase"]],["is","event:props:currency",["EUR"]]]}]}"#,
        #"{"site":"other.example.org","date_range":"all","window":"7d","steps":[{"filters":[["matches_not","event:name",["^identify$"]]]},{"filters":[["is","event:name",["goal_achieved","purchase"]]]}]}"#,
    ]

    static func steps(_ json: [String: Any]?) -> [FunnelReference.Step] {
        (json?["steps"] as? [[String: Any]] ?? []).map {
            FunnelReference.Step(visitors: $0["visitors"] as? Int ?? -1, conversionRate: $0["conversion_rate"] as? Double ?? -1,
                                 conversionRateFromPrevious: $0["conversion_rate_from_previous"] as? Double ?? -1,
                                 dropoff: $0["dropoff"] as? Int ?? -1, medianSecondsFromPrevious: $0["median_seconds_from_previous"] as? Double)
        }
    }

    static func funnel(_ client: TestClient, _ body: String) throws -> (TestResponse, [String: Any]?) {
        let response = try QueryRouteTests.post(client, "/api/funnel", body)
        return (response, try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    static func parse(_ body: String) throws -> Funnel {
        try Array(body.utf8).withUnsafeBytes { try Funnel.parse($0, now: 1_793_491_200_000) }
    }

    @Test(arguments: [UInt64(3), 17, 29])
    func stepsMatchTheReference(seed: UInt64) throws {
        let events = generateEvents(seed: seed, visitors: 150)
        try withGateway { port, _ in
            let client = try TestClient(port: port, receiveTimeout: 30)
            for start in stride(from: 0, to: events.count, by: 200) {
                let batch = events[start..<min(events.count, start + 200)].map(QueryRouteTests.json).joined(separator: ",")
                #expect(try QueryRouteTests.post(client, "/api/track", "[\(batch)]").status == 202)
            }
            func check(erased: Set<String>) throws {
                for body in Self.funnels {
                    let (response, json) = try Self.funnel(client, body)
                    #expect(response.status == 200, "\(response.text)")
                    let expected = FunnelReference.run(events, try Self.parse(body), erased: erased)
                    #expect(Self.steps(json) == expected, "\(body)")
                    #expect(expected[0].visitors > 0, "the funnel is entered: \(body)")
                    let meta = json?["meta"] as? [String: Any]
                    #expect((meta?["step_checks"] as? Int ?? .max) <= (meta?["events"] as? Int ?? -1))
                }
            }
            try check(erased: [])
            // Erased visitors drop out of every step.
            let reached = events.first { $0.site == Self.site && $0.url.hasSuffix("/pricing") }!.visitorID
            #expect(try exchange(client, "DELETE", "/api/visitors/\(reached)?site=\(Self.site)").status == 200)
            try check(erased: [reached])
        }
    }

    /// Ties, the window's edge and greedy earliest matching, by hand.
    @Test func entryAtTheFirstMatchAndLaterStepsWithinTheWindow() throws {
        let base: Int64 = 1_793_534_400_000  // 2026-11-01T12:00:00Z
        func event(_ visitor: String, _ name: String, _ seconds: Int64) -> String {
            #"{"event":"\#(name)","visitor_id":"\#(visitor)","timestamp":"\#(Timestamp.format(base + seconds * 1000))","url":"https://shop.example.com/"}"#
        }
        let events = [
            // a: both steps at the same instant, in order: reached, 0 s apart.
            event("a", "signup", 0), event("a", "purchase", 0),
            // b: the purchase comes first at the same instant: not after the entry.
            event("b", "purchase", 0), event("b", "signup", 0),
            // c: the purchase exactly one window (30 minutes) after the entry: reached.
            event("c", "signup", 0), event("c", "purchase", 1800),
            // d: one second late: not reached, though a later signup would be in time (the entry is the first).
            event("d", "signup", 0), event("d", "signup", 1000), event("d", "purchase", 1801),
        ]
        try withGateway { port, _ in
            let client = try TestClient(port: port)
            #expect(try QueryRouteTests.post(client, "/api/track", "[\(events.joined(separator: ","))]").status == 202)
            let (response, json) = try Self.funnel(client, #"{"site":"shop.example.com","date_range":"all","window":"30m","steps":[{"name":"Sign-up","filters":[["is","event:name",["signup"]]]},{"filters":[["is","event:name",["purchase"]]]}]}"#)
            #expect(response.status == 200, "\(response.text)")
            #expect(Self.steps(json) == [
                FunnelReference.Step(visitors: 4, conversionRate: 100, conversionRateFromPrevious: 100, dropoff: 0, medianSecondsFromPrevious: nil),
                FunnelReference.Step(visitors: 2, conversionRate: 50, conversionRateFromPrevious: 50, dropoff: 2, medianSecondsFromPrevious: 900),
            ])
            #expect((json?["steps"] as? [[String: Any]])?.map { $0["name"] as? String } == ["Sign-up", "Step 2"])
        }
    }

    @Test func badFunnelsAreAnsweredWithTheFieldAtFault() throws {
        let step = #"{"filters":[["is","event:name",["page_view"]]]}"#
        func body(steps: [String] = [step, step], extra: String = "") -> String {
            #"{"site":"shop.example.com","date_range":"all"\#(extra),"steps":[\#(steps.joined(separator: ","))]}"#
        }
        let manyValues = (0...Query.maxValuesPerFilter).map { "\"v\($0)\"" }.joined(separator: ",")
        let cases: [(String, String)] = [
            ("{", "body"),
            (#"{"site":"shop.example.com","steps":[]}"#, "steps"),
            (body(steps: [step]), "steps"),
            (body(steps: Array(repeating: step, count: 9)), "steps"),
            (body(steps: [step, #"{"filters":[]}"#]), "steps[1].filters"),
            (body(steps: [step, #"{"name":"","filters":[["is","event:name",["x"]]]}"#]), "steps[1].name"),
            (body(steps: [step, #"{"filters":[["is","visit:source",["Google"]]]}"#]), "steps[1].filters[0]"),
            (body(steps: [step, #"{"filters":[["equals","event:name",["x"]]]}"#]), "steps[1].filters[0]"),
            (body(steps: [step, #"{"filters":[["is","event:name",[\#(manyValues)]]]}"#]), "steps[1].filters[0]"),
            (body(steps: Array(repeating: #"{"filters":[\#(Array(repeating: #"["is","event:name",["x"]]"#, count: 3).joined(separator: ","))]}"#, count: 8)), "steps"),
            (body(extra: #","window":"91d""#), "window"),
            (body(extra: #","window":"2w""#), "window"),
            (body(extra: #","window":"0m""#), "window"),
            (body(extra: #","window":7"#), "window"),
            (body(extra: #","filters":[["is","visit:browser",["Firefox"]]]"#), "filters[0]"),
            (body(extra: #","timezone":"Mars/Olympus""#), "timezone"),
            (body(extra: #","metrics":["visitors"]"#), "metrics"),
            (body(steps: [step, #"{"filters":[["is","event:name",["x"]]],"when":1}"#]), "steps[1].when"),
        ]
        try withGateway { port, _ in
            let client = try TestClient(port: port)
            for (body, field) in cases {
                let response = try QueryRouteTests.post(client, "/api/funnel", body)
                #expect(response.status == 400, "\(body): \(response.text)")
                #expect(response.text.contains("\(field):"), "\(body): \(response.text)")
            }
            #expect(try exchange(client, "GET", "/api/funnel").status == 405)
        }
    }

    /// A hostile 8-step funnel: four visitors of 5,000 events each, every event matching steps 1 to 7 and the
    /// last step never coming; entering again at every step-1 event would take quadratic work. One look per event.
    @Test func aHostileEightStepFunnelIsLinear() throws {
        try withGateway { port, store in
            var perShard = [[UInt8]](repeating: [], count: store.shardCount)
            var counts = [Int](repeating: 0, count: store.shardCount)
            for n in 0..<20_000 {
                let visitor = "visitor-\(n % 4)"
                let event = EventRecord(timestamp: 1_790_812_800_000 + Int64(n) * 100, receivedAt: 0, event: "page_view",
                                        visitorID: visitor, sessionID: "s", url: "https://\(Self.site)/page/\(n % 50)", site: Self.site)
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
            let steps = (0..<7).map { _ in #"{"filters":[["contains","event:page",["/page/"]]]}"# } + [#"{"filters":[["is","event:name",["purchase"]]]}"#]
            let body = #"{"site":"shop.example.com","date_range":"all","window":"90d","steps":[\#(steps.joined(separator: ","))]}"#
            let (response, json) = try Self.funnel(try TestClient(port: port, receiveTimeout: 30), body)
            #expect(response.status == 200, "\(response.text)")
            let meta = json?["meta"] as? [String: Any]
            #expect(meta?["events"] as? Int == 20_000)
            #expect((meta?["step_checks"] as? Int ?? .max) <= 20_000)
            #expect(Self.steps(json).map(\.visitors) == [4, 4, 4, 4, 4, 4, 4, 0])
            #expect(Self.steps(json).map(\.medianSecondsFromPrevious) == [nil, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, nil])
        }
    }

    @Test func aFunnelPastTheRowCapIsRefused() throws {
        var options = GatewayOptions()
        options.queryMaxRows = 500
        try withGateway(gateway: options) { port, store in
            QueryBudgetTests.fill(store, events: 2_000)
            let body = #"{"site":"shop.example.com","date_range":"all","steps":[{"filters":[["is","event:name",["page_view"]]]},{"filters":[["is","event:name",["purchase"]]]}]}"#
            let (response, _) = try Self.funnel(try TestClient(port: port, receiveTimeout: 30), body)
            #expect(response.status == 422, "\(response.text)")
            #expect(response.text.contains("narrow the range or add filters"), "\(response.text)")
        }
    }
}
