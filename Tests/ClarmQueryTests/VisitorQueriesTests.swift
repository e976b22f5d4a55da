import Testing
import ClarmEvents
import ClarmStorage
import ClarmTestSupport
@testable import ClarmQuery

@Suite struct VisitorQueriesTests {
    static let t0: Int64 = 1_793_491_200_000  // 2026-11-01T00:00:00Z
    static let day: Int64 = 86_400_000

    static func event(_ name: String, _ visitor: String, _ time: Int64, session: String = "", path: String = "/",
                      rest: String = "", referrer: String = "", properties: String = "") -> EventRecord {
        EventRecord(timestamp: time, receivedAt: 0, event: name, visitorID: visitor, sessionID: session,
                    url: "https://shop.example.com\(path)\(rest)", referrer: referrer,
                    userAgent: "Mozilla/5.0 (Windows NT 10.0) Chrome/131.0", properties: properties, site: "shop.example.com")
    }

    static let events: [EventRecord] = [
        event("page_view", "ann", t0, session: "s1", rest: "?utm_source=newsletter"),
        event("widget_open", "ann", t0 + 10_000, session: "s1"),
        event("widget_message", "ann", t0 + 20_000, session: "s1", properties: #"{"text":"hi"}"#),
        event("click", "ann", t0 + 30_000, session: "s1", properties: #"{"element":"book-demo"}"#),
        event("page_view", "ann", t0 + day, session: "s2", path: "/pricing", referrer: "https://www.google.com/search"),
        event("identify", "ann", t0 + day + 5_000, session: "s2", properties: #"{"email":"ann@example.com","name":"Ann"}"#),
        event("page_view", "ann", t0 + 2 * day, session: "s3", path: "/checkout"),
        event("purchase", "ann", t0 + 2 * day + 10_000, session: "s3", properties: #"{"amount":49.5,"currency":"USD"}"#),
        event("identify", "ann", t0 + 2 * day + 20_000, session: "s3", properties: #"{"name":"Ann B","company":"Acme"}"#),
        event("page_view", "bob", t0 + day / 2, referrer: "https://news.ycombinator.com/"),
        event("goal_achieved", "bob", t0 + day / 2 + 60_000, properties: #"{"goal":"signup"}"#),
    ]

    func withEngine(_ body: (QueryEngine) throws -> Void) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let store = try makeStore(Self.events, directory: directory)
        defer { store.close() }
        try body(QueryEngine(store: store))
    }

    @Test func listsVisitorsWithIdentity() throws {
        try withEngine { engine in
            let (rows, total) = try engine.visitors(site: "shop.example.com", from: .min, to: .max, search: nil, limit: 50, offset: 0)
            #expect(total == 2)
            #expect(rows.map(\.visitorID) == ["ann", "bob"])
            let ann = rows[0]
            #expect(ann.identity == ["email": "ann@example.com", "name": "Ann B", "company": "Acme"])
            #expect(ann.firstSeen == Self.t0 && ann.lastSeen == Self.t0 + 2 * Self.day + 20_000)
            #expect(ann.visits == 3 && ann.events == 9)
            #expect(ann.revenue == ["USD": 49.5])
            // The range limits the counts, not the identity (which covers the whole history).
            let late = try engine.visitors(site: "shop.example.com", from: Self.t0 + 2 * Self.day, to: .max, search: nil, limit: 50, offset: 0)
            #expect(late.rows.map(\.visitorID) == ["ann"])
            #expect(late.rows[0].events == 3 && late.rows[0].visits == 1)
            #expect(late.rows[0].identity["email"] == "ann@example.com")
            #expect(try engine.visitors(site: "shop.example.com", from: .min, to: .max, search: "ANN@", limit: 50, offset: 0).rows.map(\.visitorID) == ["ann"])
            #expect(try engine.visitors(site: "shop.example.com", from: .min, to: .max, search: "bo", limit: 50, offset: 0).rows.map(\.visitorID) == ["bob"])
        }
    }

    @Test func showsAVisitorsWholeTimeline() throws {
        try withEngine { engine in
            let detail = try #require(try engine.visitor(site: "shop.example.com", id: "ann"))
            #expect(detail.timeline.map(\.event) == Self.events.filter { $0.visitorID == "ann" }.map(\.event))
            #expect(detail.timeline.map(\.time) == detail.timeline.map(\.time).sorted())
            #expect(detail.timeline[0].url == "https://shop.example.com/?utm_source=newsletter")
            #expect(detail.timeline[2].properties == #"{"text":"hi"}"#)
            #expect(detail.timeline[0].properties == "{}")
            #expect(detail.summary.identity["name"] == "Ann B")
            #expect(try engine.visitor(site: "shop.example.com", id: "nobody") == nil)
            #expect(try engine.visitor(site: "other.example.com", id: "ann") == nil)
        }
    }

    @Test func attributesConversions() throws {
        try withEngine { engine in
            let (rows, total) = try engine.conversions(site: "shop.example.com", from: .min, to: .max, limit: 100, offset: 0)
            #expect(total == 4)
            #expect(rows.map(\.kind) == ["lead", "purchase", "lead", "goal"])
            let purchase = rows[1]
            #expect(purchase.visitorID == "ann")
            #expect(purchase.amount == "49.5" && purchase.currency == "USD")
            #expect(purchase.firstTouch.source == "newsletter" && purchase.firstTouch.landingPage == "/")
            // The converting visit came direct, so the last touch is the latest visit that did not: Google, /pricing.
            #expect(purchase.lastTouch.source == "Google" && purchase.lastTouch.landingPage == "/pricing" && purchase.lastTouch.channel == "Organic Search")
            #expect(purchase.pagesViewed == 3 && purchase.widgetOpens == 1 && purchase.widgetMessages == 1 && purchase.ctaClicks == 1)
            #expect(purchase.preceding.map(\.event) == ["page_view", "widget_open", "widget_message", "click", "page_view", "identify", "page_view"])
            #expect(purchase.millisecondsToConvert == 2 * Self.day + 10_000)
            #expect(purchase.identity["company"] == "Acme")
            let goal = rows[3]
            #expect(goal.visitorID == "bob" && goal.firstTouch.source == "Hacker News" && goal.lastTouch.source == "Hacker News")
            #expect(goal.firstTouch.channel == "Organic Social" && goal.lastTouch.channel == "Organic Social")
            #expect(goal.pagesViewed == 1)
            // A range selects conversions; their history still reaches back before it.
            let late = try engine.conversions(site: "shop.example.com", from: Self.t0 + 2 * Self.day, to: .max, limit: 100, offset: 0)
            #expect(late.rows.map(\.kind) == ["lead", "purchase"])
            #expect(late.rows[1].firstTouch.source == "newsletter")
        }
    }
}

extension VisitorDetail: Equatable {
    public static func == (lhs: VisitorDetail, rhs: VisitorDetail) -> Bool { lhs.summary.visitorID == rhs.summary.visitorID }
}
