import Glibc
import Testing
import ClarmEvents
import ClarmStorage
import ClarmTestSupport
@testable import ClarmQuery

/// Visits cost time linear in rows whatever the ids: one visitor with 40,000 sessions costs no more than
/// 5× as many sessions of 40,000 visitors, for the visits query, a visitor's page and the conversions.
@Suite struct VisitsScaleTests {
    static let sessions = 40_000
    static let t0: Int64 = 1_793_491_200_000  // 2026-11-01T00:00:00Z

    /// One event per session, every 40th a purchase; all direct, so last touch looks back past every visit.
    static func events(visitor: (Int) -> String) -> [EventRecord] {
        (0..<sessions).map { i in
            EventRecord(timestamp: t0 + Int64(i) * 1_000, receivedAt: 0, event: i % 40 == 39 ? "purchase" : "page_view",
                        visitorID: visitor(i), sessionID: "s\(i)", url: "https://shop.example.com/p\(i % 50)",
                        referrer: "", userAgent: "", properties: "", site: "shop.example.com")
        }
    }

    /// A store of one shard holding `events` (so both cases run on one thread), and an engine over it.
    static func withEngine(_ events: [EventRecord], _ body: (QueryEngine) throws -> Void) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = StoreOptions()
        options.shards = 1
        options.durability = .os
        let store = try Store(directory: directory.path, options: options)
        defer { store.close() }
        append(store, events)
        try body(QueryEngine(store: store))
    }

    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        var start = timespec(), end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        try body()
        clock_gettime(CLOCK_MONOTONIC, &end)
        return Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
    }

    /// The best of three runs; with a `limit`, stops at the first run within it.
    /// The best of 3 runs, or of up to 8 while over `limit`: a shared machine's bursts of load must not fail the
    /// test, and a quadratic path (over 15 s a run here) stays over the limit however often it runs.
    static func best(within limit: Double = 0, _ body: () throws -> Void) rethrows -> Double {
        var best = Double.infinity
        for attempt in 0..<8 where attempt < 3 || best > limit { best = min(best, try seconds(body)) }
        return best
    }

    static let query = #"{"site":"shop.example.com","date_range":"all","metrics":["visits","bounce_rate","visit_duration"],"dimensions":["visit:entry_page"]}"#

    /// Runs the three paths, each checking its answer, and gives the best time of each and the query's answer.
    static func times(_ engine: QueryEngine, visitor: String?, within limits: [Double] = [0, 0, 0]) throws -> (seconds: [Double], answer: [[String]: [MetricValue]]) {
        let query = try parse(Self.query)
        var answer: [[String]: [MetricValue]] = [:]
        let seconds = [
            try best(within: limits[0]) {
                answer = Dictionary(uniqueKeysWithValues: try engine.run(query).rows.map { ($0.dimensions, $0.metrics) })
                #expect(answer.count == 50 && answer.values.allSatisfy { $0[0] == .count(sessions / 50) })
            },
            // One visitor's page, or the list of every visitor: either way every visit is formed.
            try best(within: limits[1]) {
                let visits = if let visitor {
                    try engine.visitor(site: "shop.example.com", id: visitor)?.summary.visits
                } else {
                    try engine.visitors(site: "shop.example.com", from: .min, to: .max, search: nil, limit: 1, offset: 0).total
                }
                #expect(visits == sessions)
            },
            try best(within: limits[2]) {
                let conversions = try engine.conversions(site: "shop.example.com", from: .min, to: .max, limit: 10, offset: 0)
                #expect(conversions.total == sessions / 40)
            },
        ]
        return (seconds, answer)
    }

    @Test func oneVisitorWithManySessionsCostsNoMoreThanManyVisitors() throws {
        var many: (seconds: [Double], answer: [[String]: [MetricValue]]) = ([], [:])
        try Self.withEngine(Self.events { "v\($0)" }) { many = try Self.times($0, visitor: nil) }
        // Ten times: far below the quadratic path (over 15 s a run), far above a loaded machine's noise.
        let limits = many.seconds.map { 10 * $0 }
        var one: (seconds: [Double], answer: [[String]: [MetricValue]]) = ([], [:])
        try Self.withEngine(Self.events { _ in "one" }) { one = try Self.times($0, visitor: "one", within: limits) }
        // Each visit is one event either way, so the answers agree.
        #expect(one.answer == many.answer)
        for (path, index) in [("visits query", 0), ("visitor", 1), ("conversions", 2)] {
            #expect(one.seconds[index] <= limits[index],
                    "\(path): \(one.seconds[index]) s for one visitor, \(many.seconds[index]) s for 40,000")
        }
    }
}
