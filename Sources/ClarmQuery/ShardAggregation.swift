import ClarmEvents
import ClarmStorage

/// Computes one shard's groups: visits per visitor, visit attributes, filters, then the sums per group.
struct ShardAggregation {
    let query: Query
    var rows: ShardRows

    private var groupIndex: [[Int64]: Int] = [:]
    private var accumulators: [Accumulator] = []
    private var agents: [UInt32: UserAgent] = [:]
    private var amounts: [UInt32: Double?] = [:]

    init(query: Query, rows: ShardRows) {
        self.query = query
        self.rows = rows
    }

    mutating func run() -> [[String]: Accumulator] {
        rows.rows.sort { a, b in
            a.visitor != b.visitor ? a.visitor < b.visitor
                : a.timestamp != b.timestamp ? a.timestamp < b.timestamp : a.sequence < b.sequence
        }
        let needsVisitAttributes = (query.dimensions + query.filters.map(\.dimension)).contains { $0.isVisit }
        let pageView = id("page_view"), purchase = id("purchase"), goal = id("goal_achieved")
        var start = 0
        let all = rows.rows
        var visitOf: [Int] = []
        var firsts: [Int] = []
        var attributes: [VisitAttributes?] = []
        var visitGroups: [Int64: (count: Int, first: Int64, last: Int64, pageViewOnly: Bool)] = [:]
        var visitorGroups: [Int: Bool] = [:]
        var key: [Int64] = []
        while start < all.count {
            var end = start + 1
            while end < all.count && all[end].visitor == all[start].visitor { end += 1 }

            Visits.assign(all[start..<end], empty: rows.empty, visitOf: &visitOf, firsts: &firsts)
            attributes.removeAll(keepingCapacity: true)
            for first in firsts {
                attributes.append(needsVisitAttributes ? VisitAttributes(first: all[first], strings: rows.strings, agents: &agents) : nil)
            }

            visitGroups.removeAll(keepingCapacity: true)
            visitorGroups.removeAll(keepingCapacity: true)
            for i in start..<end {
                let row = all[i]
                let visit = attributes[visitOf[i - start]]
                guard query.filters.allSatisfy({ $0.matches(text(of: $0.dimension, row, visit)) }) else { continue }
                key.removeAll(keepingCapacity: true)
                for dimension in query.dimensions { key.append(keyValue(dimension, row, visit)) }
                let group = groupFor(key)
                let isPageView = row.event == pageView
                let isConversion = row.event == purchase || row.event == goal
                accumulators[group].events += 1
                if isPageView { accumulators[group].pageviews += 1 }
                if isConversion { accumulators[group].conversions += 1 }
                if row.event == purchase, let amount = amount(row.amount) {
                    let currency = row.currency == rows.empty ? "unknown" : rows.strings.string(row.currency)
                    accumulators[group].revenue[currency, default: 0] += amount
                }
                visitorGroups[group] = (visitorGroups[group] ?? false) || isConversion
                let visitKey = Int64(visitOf[i - start]) << 32 | Int64(group)
                if var entry = visitGroups[visitKey] {
                    entry.count += 1
                    entry.last = row.timestamp
                    entry.pageViewOnly = false
                    visitGroups[visitKey] = entry
                } else {
                    visitGroups[visitKey] = (1, row.timestamp, row.timestamp, isPageView)
                }
            }
            for (group, converted) in visitorGroups {
                accumulators[group].visitors += 1
                if converted { accumulators[group].convertingVisitors += 1 }
            }
            for (visitKey, entry) in visitGroups {
                let group = Int(visitKey & 0xFFFF_FFFF)
                accumulators[group].visits += 1
                accumulators[group].durationSum += entry.last - entry.first
                if entry.count == 1 && entry.pageViewOnly { accumulators[group].bouncedVisits += 1 }
            }
            start = end
        }
        var result: [[String]: Accumulator] = [:]
        for (key, index) in groupIndex {
            let names = zip(query.dimensions, key).map { dimension, value in label(dimension, value) }
            result[names, default: Accumulator()].add(accumulators[index])
        }
        return result
    }

    private mutating func groupFor(_ key: [Int64]) -> Int {
        if let index = groupIndex[key] { return index }
        let index = accumulators.count
        groupIndex[key] = index
        accumulators.append(Accumulator())
        return index
    }

    private mutating func id(_ text: String) -> UInt32 {
        Array(text.utf8).withUnsafeBytes { rows.strings.id(for: $0) }
    }

    private mutating func amount(_ id: UInt32) -> Double? {
        if let cached = amounts[id] { return cached }
        let value = Double(rows.strings.string(id))
        amounts[id] = value
        return value
    }

    // MARK: Dimension values

    /// A dimension's value as a group key part: a string id, or a time bucket's start.
    private mutating func keyValue(_ dimension: Query.Dimension, _ row: EventRow, _ visit: VisitAttributes?) -> Int64 {
        switch dimension {
        case .time(let bucket): TimeBuckets.start(of: row.timestamp, bucket)
        case .eventName: Int64(row.event)
        case .eventPage: Int64(row.path)
        case .eventProperty: Int64(row.property)
        case .visitEntryPage: Int64(visit!.entryPage)
        default: Int64(id(text(of: dimension, row, visit)))
        }
    }

    /// Turns a group key part back into the text the answer shows.
    private func label(_ dimension: Query.Dimension, _ value: Int64) -> String {
        switch dimension {
        case .time(let bucket): TimeBuckets.label(value, bucket)
        case .eventProperty: value == Int64(rows.empty) ? "(none)" : rows.strings.string(UInt32(value))
        default: rows.strings.string(UInt32(value))
        }
    }

    /// A dimension's value as text, for filters and for dimensions without a cheaper key.
    private mutating func text(of dimension: Query.Dimension, _ row: EventRow, _ visit: VisitAttributes?) -> String {
        switch dimension {
        case .time(let bucket): TimeBuckets.label(TimeBuckets.start(of: row.timestamp, bucket), bucket)
        case .eventName: rows.strings.string(row.event)
        case .eventPage: rows.strings.string(row.path)
        case .eventHostname: VisitAttributes.host(rows.strings.string(row.origin))
        case .eventProperty: row.property == rows.empty ? "(none)" : rows.strings.string(row.property)
        case .visitEntryPage: rows.strings.string(visit!.entryPage)
        case .visitSource: visit!.source
        case .visitReferrer: visit!.referrer
        case .visitUTMSource: visit!.utmSource
        case .visitUTMMedium: visit!.utmMedium
        case .visitUTMCampaign: visit!.utmCampaign
        case .visitBrowser: visit!.agent.browser
        case .visitOS: visit!.agent.os
        case .visitDevice: visit!.agent.device
        }
    }

}

/// Calendar buckets in UTC.
enum TimeBuckets {
    static func start(of timestamp: Int64, _ bucket: Query.TimeBucket) -> Int64 {
        let hour: Int64 = 3_600_000, day: Int64 = 86_400_000
        switch bucket {
        case .hour: return floor(timestamp, hour)
        case .day: return floor(timestamp, day)
        case .week:
            // 1970-01-01 was a Thursday; weeks start on Monday (ISO 8601).
            return floor(timestamp - 4 * day, 7 * day) + 4 * day
        case .month:
            let days = Int(floor(timestamp, day) / day)
            let (y, m, _) = Timestamp.civilFromDays(days)
            return Int64(Timestamp.daysFromCivil(year: y, month: m, day: 1)) * day
        }
    }

    static func label(_ start: Int64, _ bucket: Query.TimeBucket) -> String {
        let text = Timestamp.format(start)  // 2026-11-05T08:00:00.000Z
        switch bucket {
        case .hour: return String(text.prefix(13)) + ":00:00Z"
        case .day, .week: return String(text.prefix(10))
        case .month: return String(text.prefix(7))
        }
    }

    private static func floor(_ value: Int64, _ unit: Int64) -> Int64 {
        value >= 0 ? value - value % unit : value - ((value % unit) + unit) % unit
    }
}
