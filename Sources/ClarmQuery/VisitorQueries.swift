import ClarmEvents
import ClarmStorage
import Dispatch
import Synchronization

/// A visitor as the Visitors view lists them.
public struct VisitorSummary: Sendable {
    public var visitorID: String
    /// Traits from every `identify` of the visitor, whole history; the latest value of each trait wins.
    public var identity: [String: String]
    public var firstSeen: Int64
    public var lastSeen: Int64
    public var visits: Int
    public var events: Int
    public var revenue: [String: Double]
}

public struct TimelineEvent: Sendable {
    public var time: Int64
    public var event: String
    public var sessionID: String
    public var page: String
    public var url: String
    public var referrer: String
    public var userAgent: String
    /// The properties object as stored (`{}` when none).
    public var properties: String
    /// Where the event's client was located (docs/QUERIES.md, "Location"); empty when unknown.
    public var country: String
    public var region: String
    public var city: String
}

public struct VisitorDetail: Sendable {
    public var summary: VisitorSummary
    public var timeline: [TimelineEvent]
}

public struct Touch: Sendable {
    public var source: String
    public var landingPage: String
    public var time: Int64
    public var channel: String
}

/// One conversion with what led to it (docs/QUERIES.md, "Conversions").
public struct Conversion: Sendable {
    public var time: Int64
    /// `purchase`, `goal` or `lead` (an `identify`).
    public var kind: String
    public var visitorID: String
    public var identity: [String: String]
    public var properties: String
    public var amount: String?
    public var currency: String?
    public var firstTouch: Touch
    public var lastTouch: Touch
    public var pagesViewed: Int
    public var widgetOpens: Int
    public var widgetMessages: Int
    public var ctaClicks: Int
    /// Up to the last 10 events before the conversion, oldest first.
    public var preceding: [TimelineEvent]
    public var millisecondsToConvert: Int64
}

extension QueryEngine {
    static let identify = Array("identify".utf8)
    static let conversionEvents: Set<[UInt8]> = [Array("purchase".utf8), Array("goal_achieved".utf8), identify]

    /// Visitors with events in `[from, to)`, most recently seen first; `search` matches the id or the email.
    public func visitors(site: String, from: Int64, to: Int64, search: String?, limit: Int, offset: Int) throws(QueryError) -> (rows: [VisitorSummary], total: Int) {
        let lists = try eachShard { shard throws(SegmentCorruption) -> [VisitorSummary] in
            var selection = RowSelection(site: site)
            selection.control = control
            selection.from = from
            selection.to = to
            selection.columns = [.amount, .currency]
            var scan = try ShardRows.scan(shard, selection)
            var summaries = Self.summaries(&scan)
            var traits = RowSelection(site: site)
            traits.control = control
            traits.columns = [.properties]
            traits.events = [Self.identify]
            traits.visitors = Set(summaries.map { Array($0.visitorID.utf8) })
            if !summaries.isEmpty {
                var identities = try ShardRows.scan(shard, traits)
                let byVisitor = Self.identities(&identities)
                for i in summaries.indices { summaries[i].identity = byVisitor[summaries[i].visitorID] ?? [:] }
            }
            return summaries
        }
        var all = lists.flatMap { $0 }
        if let search, !search.isEmpty {
            let needle = search.lowercased()
            all = all.filter { $0.visitorID.lowercased().contains(needle) || ($0.identity["email"]?.lowercased().contains(needle) ?? false) }
        }
        all.sort { $0.lastSeen != $1.lastSeen ? $0.lastSeen > $1.lastSeen : $0.visitorID < $1.visitorID }
        return (Array(all.dropFirst(offset).prefix(limit)), all.count)
    }

    /// One visitor's identity and whole timeline, oldest first; nil when the site has no event of theirs.
    public func visitor(site: String, id: String) throws(QueryError) -> VisitorDetail? {
        let shard = Array(id.utf8).withUnsafeBytes { store.shard(forVisitor: $0) }
        var selection = RowSelection(site: site)
        selection.control = control
        selection.visitors = [Array(id.utf8)]
        selection.columns = [.path, .origin, .rest, .referrer, .user_agent, .amount, .currency, .properties, .country, .region, .city]
        var scan: ShardRows
        do throws(SegmentCorruption) {
            scan = try ShardRows.scan(store.snapshot()[shard], selection)
        } catch {
            throw QueryError(field: "storage", problem: "damaged data: \(error)")
        }
        try control.check()
        guard !scan.rows.isEmpty else { return nil }
        var summary = Self.summaries(&scan)[0]
        summary.identity = Self.identities(&scan)[id] ?? [:]
        let timeline = scan.rows.map { Self.timelineEvent($0, scan.strings) }
        return VisitorDetail(summary: summary, timeline: timeline)
    }

    /// Conversions in `[from, to)` (purchases, goals, and identifies as leads), most recent first, each with
    /// its first and last touch and what preceded it in the visitor's whole history.
    public func conversions(site: String, from: Int64, to: Int64, limit: Int, offset: Int) throws(QueryError) -> (rows: [Conversion], total: Int) {
        let lists = try eachShard { shard throws(SegmentCorruption) -> [Conversion] in
            var converting = RowSelection(site: site)
            converting.control = control
            converting.from = from
            converting.to = to
            converting.events = Self.conversionEvents
            let found = try ShardRows.scan(shard, converting)
            guard !found.rows.isEmpty else { return [] }
            var history = RowSelection(site: site)
            history.control = control
            history.visitors = Set(found.rows.map { Array(found.strings.value($0.visitor)) })
            history.columns = [.path, .origin, .rest, .referrer, .user_agent, .amount, .currency, .properties, .country, .region, .city]
            var scan = try ShardRows.scan(shard, history)
            return Self.conversions(&scan, from: from, to: to)
        }
        var all = lists.flatMap { $0 }
        all.sort { $0.time != $1.time ? $0.time > $1.time : $0.visitorID < $1.visitorID }
        return (Array(all.dropFirst(offset).prefix(limit)), all.count)
    }

    // MARK: Per shard

    func eachShard<T: Sendable>(_ body: @Sendable (ShardSnapshot) throws(SegmentCorruption) -> T) throws(QueryError) -> [T] {
        let shards = store.snapshot()
        let results = Mutex([Int: T]())
        let failure = Mutex<SegmentCorruption?>(nil)
        DispatchQueue.concurrentPerform(iterations: shards.count) { index in
            do throws(SegmentCorruption) {
                let value = try body(shards[index])
                results.withLock { $0[index] = value }
            } catch {
                failure.withLock { $0 = error }
            }
        }
        if let failure = failure.withLock({ $0 }) { throw QueryError(field: "storage", problem: "damaged data: \(failure)") }
        try control.check()
        return results.withLock { results in (0..<shards.count).compactMap { results[$0] } }
    }

    static func sortByVisitor(_ scan: inout ShardRows) {
        scan.rows.sort { a, b in
            a.visitor != b.visitor ? a.visitor < b.visitor
                : a.timestamp != b.timestamp ? a.timestamp < b.timestamp : a.sequence < b.sequence
        }
    }

    /// Calls `body` with each visitor's rows, in time order.
    static func forEachVisitor(_ scan: inout ShardRows, _ body: (ArraySlice<EventRow>) -> Void) {
        sortByVisitor(&scan)
        var start = 0
        let rows = scan.rows
        while start < rows.count {
            var end = start + 1
            while end < rows.count && rows[end].visitor == rows[start].visitor { end += 1 }
            body(rows[start..<end])
            start = end
        }
    }

    static func summaries(_ scan: inout ShardRows) -> [VisitorSummary] {
        var result: [VisitorSummary] = []
        var visits = Visits()
        let strings = scan.strings, empty = scan.empty
        let purchase = Array("purchase".utf8)
        forEachVisitor(&scan) { rows in
            visits.assign(rows, empty: empty)
            var revenue: [String: Double] = [:]
            for row in rows where strings.value(row.event).elementsEqual(purchase) {
                if let amount = Double(strings.string(row.amount)) {
                    revenue[row.currency == empty ? "unknown" : strings.string(row.currency), default: 0] += amount
                }
            }
            result.append(VisitorSummary(
                visitorID: strings.string(rows.first!.visitor), identity: [:], firstSeen: rows.first!.timestamp,
                lastSeen: rows.last!.timestamp, visits: visits.firsts.count, events: rows.count, revenue: revenue))
        }
        return result
    }

    static func identities(_ scan: inout ShardRows) -> [String: [String: String]] {
        var result: [String: [String: String]] = [:]
        var reader = PropertyReader()
        let strings = scan.strings
        forEachVisitor(&scan) { rows in
            var traits: [String: String] = [:]
            for row in rows where strings.value(row.event).elementsEqual(identify) {
                Array(strings.value(row.properties)).withUnsafeBytes { properties in
                    reader.forEachMember(properties) { key, value in
                        traits[String(decoding: key, as: UTF8.self)] = String(decoding: value, as: UTF8.self)
                    }
                }
            }
            if !traits.isEmpty { result[strings.string(rows.first!.visitor)] = traits }
        }
        return result
    }

    static func timelineEvent(_ row: EventRow, _ strings: ByteInterner) -> TimelineEvent {
        let properties = strings.string(row.properties)
        return TimelineEvent(time: row.timestamp, event: strings.string(row.event), sessionID: strings.string(row.session),
                             page: strings.string(row.path),
                             url: strings.string(row.origin) + strings.string(row.path) + strings.string(row.rest),
                             referrer: strings.string(row.referrer), userAgent: strings.string(row.userAgent),
                             properties: properties.isEmpty ? "{}" : properties, country: strings.string(row.country),
                             region: strings.string(row.region), city: strings.string(row.city))
    }

    static func conversions(_ scan: inout ShardRows, from: Int64, to: Int64) -> [Conversion] {
        let identities = identities(&scan)
        var result: [Conversion] = []
        var visits = Visits()
        var lastTouch: [Int] = []
        var agents: [UInt32: UserAgent] = [:]
        let strings = scan.strings, empty = scan.empty
        forEachVisitor(&scan) { rows in
            visits.assign(rows, empty: empty)
            let firsts = visits.firsts
            let attributes = firsts.map { VisitAttributes(first: rows[$0], strings: strings, agents: &agents) }
            Visits.lastTouch(sourced: attributes.map { $0.source != VisitAttributes.direct }, into: &lastTouch)
            func touch(_ visit: Int) -> Touch {
                Touch(source: attributes[visit].source, landingPage: strings.string(attributes[visit].entryPage),
                      time: rows[firsts[visit]].timestamp, channel: attributes[visit].channel)
            }
            var pages = 0, opens = 0, messages = 0, clicks = 0
            let visitor = strings.string(rows.first!.visitor)
            for (offset, i) in rows.indices.enumerated() {
                let row = rows[i]
                let name = strings.string(row.event)
                let kind: String? = switch name {
                case "purchase": "purchase"
                case "goal_achieved": "goal"
                case "identify": "lead"
                default: nil
                }
                if let kind, row.timestamp >= from, row.timestamp < to {
                    // Last touch: the converting visit, or the latest earlier one that did not come direct.
                    let last = lastTouch[visits.visitOf[offset]]
                    let properties = strings.string(row.properties)
                    result.append(Conversion(
                        time: row.timestamp, kind: kind, visitorID: visitor, identity: identities[visitor] ?? [:],
                        properties: properties.isEmpty ? "{}" : properties,
                        amount: row.amount == empty ? nil : strings.string(row.amount),
                        currency: row.currency == empty ? nil : strings.string(row.currency),
                        firstTouch: touch(0), lastTouch: touch(last),
                        pagesViewed: pages, widgetOpens: opens, widgetMessages: messages, ctaClicks: clicks,
                        preceding: rows[max(rows.startIndex, i - 10)..<i].map { timelineEvent($0, strings) },
                        millisecondsToConvert: row.timestamp - rows.first!.timestamp))
                }
                switch name {
                case "page_view": pages += 1
                case "widget_open": opens += 1
                case "widget_message": messages += 1
                case "click", "widget_cta": clicks += 1
                default: break
                }
            }
        }
        return result
    }
}
