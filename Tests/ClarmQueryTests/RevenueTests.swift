import Testing
import ClarmEvents
import ClarmStorage
import ClarmTestSupport
@testable import ClarmQuery

/// Revenue counts an `amount` only when it is a finite JSON number; the purchase itself always counts.
@Suite struct RevenueTests {
    static let t0: Int64 = 1_793_491_200_000  // 2026-11-01T00:00:00Z

    /// (properties of a purchase, whether its amount counts)
    static let purchases: [(properties: String, counts: Bool)] = [
        (#"{"amount":10,"currency":"USD"}"#, true),
        (#"{"amount":2.5e0,"currency":"USD"}"#, true),
        (#"{"amount":"19.99","currency":"USD"}"#, false),
        (#"{"amount":"nan","currency":"USD"}"#, false),
        (#"{"amount":"NaN","currency":"USD"}"#, false),
        (#"{"amount":"inf","currency":"USD"}"#, false),
        (#"{"amount":1e999,"currency":"USD"}"#, false),
        (#"{"amount":-1e999,"currency":"EUR"}"#, false),
        (#"{"amount":0.25,"currency":"EUR"}"#, true),
        (#"{"amount":"0x10","currency":"EUR"}"#, false),
        (#"{"amount":true,"currency":"EUR"}"#, false),
        (#"{"amount":[1],"currency":"EUR"}"#, false),
        (#"{"amount":"5","amount":5,"currency":"GBP"}"#, true),
        (#"{"amount":5,"amount":"5","currency":"JPY"}"#, false),
        (#"{"amount":"7","currency":"JPY"}"#, false),
        (#"{"amount":1.5}"#, true),
    ]
    /// Hand-computed from the table above.
    static let expected: [String: Double] = ["USD": 12.5, "EUR": 0.25, "GBP": 5, "unknown": 1.5]

    static var events: [EventRecord] {
        // Each purchase by its own visitor, so every shard gets some, and the same again by one visitor.
        Self.purchases.enumerated().flatMap { i, purchase in
            ["v\(i)", "one"].map { visitor in
                EventRecord(timestamp: t0 + Int64(i) * 1_000, receivedAt: 0, event: "purchase", visitorID: visitor,
                            sessionID: "s-\(visitor)", url: "https://shop.example.com/checkout", referrer: "", userAgent: "",
                            properties: purchase.properties, site: "shop.example.com")
            }
        }
    }

    /// Checks every revenue answer, first from memtables, then from segments after a restart sealed them.
    @Test func onlyFiniteNumbersCountAsRevenue() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = StoreOptions()
        options.shards = 2
        let store = try Store(directory: directory.path, options: options)
        append(store, Self.events)
        try check(QueryEngine(store: store), "memtables")
        store.close()
        let reopened = try Store(directory: directory.path, options: options)
        defer { reopened.close() }
        #expect(reopened.snapshot().allSatisfy { $0.memtables.allSatisfy { $0.count == 0 } })
        try check(QueryEngine(store: reopened), "segments")
    }

    func check(_ engine: QueryEngine, _ source: Comment) throws {
        let doubled = Self.expected.mapValues { $0 * 2 }
        let query = try parse(#"{"site":"shop.example.com","date_range":"all","metrics":["conversions","total_revenue"]}"#)
        let answer = try engine.run(query)
        #expect(answer.rows.map(\.metrics) == [[.count(2 * Self.purchases.count), .money(doubled)]], source)
        #expect(QueryReference.run(Self.events, query)[[]] == [.count(2 * Self.purchases.count), .money(doubled)], "reference")

        // The amount as a dimension is still its text, whatever its kind.
        let byAmount = try engine.run(try parse(#"{"site":"shop.example.com","date_range":"all","metrics":["events","total_revenue"],"dimensions":["event:props:amount"]}"#))
        let groups = Dictionary(uniqueKeysWithValues: byAmount.rows.map { ($0.dimensions[0], $0.metrics) })
        #expect(groups["19.99"] == [.count(2), .money([:])], source)
        #expect(groups["nan"] == [.count(2), .money([:])], source)
        #expect(groups["1e999"] == [.count(2), .money([:])], source)
        #expect(groups["10"] == [.count(2), .money(["USD": 20])], source)
        #expect(groups["5"] == [.count(4), .money(["GBP": 10])], source)

        let visitors = try engine.visitors(site: "shop.example.com", from: .min, to: .max, search: nil, limit: 1000, offset: 0).rows
        #expect(visitors.first { $0.visitorID == "one" }?.revenue == Self.expected, source)
        for (i, purchase) in Self.purchases.enumerated() {
            let revenue = visitors.first { $0.visitorID == "v\(i)" }?.revenue
            #expect(revenue?.isEmpty == !purchase.counts, "\(purchase.properties) \(source)")
        }

        let conversions = try engine.conversions(site: "shop.example.com", from: .min, to: .max, limit: 1000, offset: 0).rows
        #expect(conversions.count == 2 * Self.purchases.count, source)
        for conversion in conversions {
            let purchase = Self.purchases.first { $0.properties == conversion.properties }!
            #expect((conversion.amount != nil) == purchase.counts, "\(purchase.properties) \(source)")
        }
    }
}
