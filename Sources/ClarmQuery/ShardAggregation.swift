import ClarmEvents
import ClarmStorage

/// Computes one shard's groups: visits per visitor, visit attributes, filters, then the sums per group.
///
/// Dimension values are kept as numbers while aggregating (a string id, or a time bucket's start) and turned
/// into text once per group at the end; visit attributes are derived once per distinct first event's
/// (URL, referrer, user agent), and a filter is decided once per distinct value.
struct ShardAggregation {
    let query: Query
    var rows: ShardRows

    /// Dimensions of the query and its filters that depend on the visit, each once.
    private let visitDimensions: [Query.Dimension]
    private var groupIndex: [[Int64]: Int] = [:]
    /// For queries of one dimension, groups by that value without building a key array.
    private var singleGroupIndex: [Int64: Int] = [:]
    /// Whether any metric needs visits (the rest only need each visitor's events together).
    private let needsVisits: Bool
    private var accumulators: [Accumulator] = []
    private var agents: [UInt32: UserAgent] = [:]
    private var amounts: [UInt32: Double?] = [:]
    private var hosts: [UInt32: Int64] = [:]
    private var filterDecisions: [[Int64: Bool]]
    private var visitValueCache: [FirstEvent: [Int64]] = [:]
    /// The query zone's offsets over the rows' instants, for time buckets.
    private let calendar: LocalCalendar
    /// With `attribution_scope: person`, each identified visitor's person's first event (`PersonFirstTouch.swift`).
    var personFirst: [[UInt8]: PersonFirstEvent] = [:]

    /// What visit attributes depend on.
    private struct FirstEvent: Hashable {
        var path, origin, rest, referrer, userAgent: UInt32
    }

    init(query: Query, rows: ShardRows) {
        self.query = query
        self.rows = rows
        var visitDimensions: [Query.Dimension] = []
        for dimension in query.dimensions + query.filters.map(\.dimension) where dimension.isVisit && !visitDimensions.contains(dimension) {
            visitDimensions.append(dimension)
        }
        self.visitDimensions = visitDimensions
        filterDecisions = Array(repeating: [:], count: query.filters.count)
        needsVisits = query.needsVisits
        let bucketed = (query.dimensions + query.filters.map(\.dimension)).contains { if case .time = $0 { true } else { false } }
        calendar = LocalCalendar(zone: query.timezone, from: query.from, to: query.to,
                                 covering: bucketed ? rows.rows : [])
    }

    mutating func run() -> [[String]: Accumulator] {
        QueryEngine.sortByVisitor(&rows)
        let pageView = id("page_view"), purchase = id("purchase"), goal = id("goal_achieved")
        let everything = rows.rows
        // With attribution the rows cover the visitors' whole history; metrics still see only the range.
        let attributing = query.attribution != nil && !visitDimensions.isEmpty
        var inRange: [EventRow] = []
        /// `history` index of each `inRange` row.
        var historyIndex: [Int] = []
        var historyVisits = Visits(), visits = Visits()
        var historySource: [Bool] = [], lastTouch: [Int] = []
        var visitValues: [Int64] = []
        var visitGroups: [Int64: (count: Int, first: Int64, last: Int64, pageViewOnly: Bool)] = [:]
        var visitorGroups: [Int: Bool] = [:]
        var key: [Int64] = []
        let personFirstRows = personFirstRows()
        var begin = 0
        while begin < everything.count {
            var finish = begin + 1
            while finish < everything.count && everything[finish].visitor == everything[begin].visitor { finish += 1 }
            let history = everything[begin..<finish]
            begin = finish
            let all: ArraySlice<EventRow>
            if attributing {
                inRange.removeAll(keepingCapacity: true)
                historyIndex.removeAll(keepingCapacity: true)
                for i in history.indices where history[i].timestamp >= query.from && history[i].timestamp < query.to {
                    inRange.append(history[i])
                    historyIndex.append(i)
                }
                if inRange.isEmpty { continue }
                all = inRange[...]
                historyVisits.assign(history, empty: rows.empty)
                historySource = historyVisits.firsts.map { !isDirect(history[$0]) }
                Visits.lastTouch(sourced: historySource, into: &lastTouch)
            } else {
                all = history
            }
            let start = all.startIndex, end = all.endIndex
            if needsVisits { visits.assign(all, empty: rows.empty) }
            visitValues.removeAll(keepingCapacity: true)
            if !visitDimensions.isEmpty {
                for first in visits.firsts { visitValues += valuesOfVisit(all[first]) }
            }
            // Emptying a table costs its capacity: after a visitor with many visits, start small again.
            visitGroups.removeAll(keepingCapacity: visitGroups.capacity <= 1024)
            visitorGroups.removeAll(keepingCapacity: true)
            for i in start..<end {
                let row = all[i]
                let visit = needsVisits ? visits.visitOf[i - start] : 0
                let isPageView = row.event == pageView
                let isConversion = row.event == purchase || row.event == goal
                // A conversion's visit dimensions come from the visit its attribution model credits.
                var values = visitValues
                var slot = visit
                if attributing && isConversion {
                    let own = historyVisits.visitOf[historyIndex[i - start] - history.startIndex]
                    let credited = switch query.attribution! {
                    case .firstTouch: 0
                    case .lastTouch: lastTouch[own]
                    }
                    values = valuesOfVisit(personFirstRows[row.visitor] ?? history[historyVisits.firsts[credited]])
                    slot = 0
                }
                var kept = true
                for index in query.filters.indices where kept {
                    kept = decide(index, value(query.filters[index].dimension, row, slot, values))
                }
                guard kept else { continue }
                let group: Int
                switch query.dimensions.count {
                case 0: group = accumulators.isEmpty ? groupFor([]) : 0
                case 1: group = singleGroup(value(query.dimensions[0], row, slot, values))
                default:
                    key.removeAll(keepingCapacity: true)
                    for dimension in query.dimensions { key.append(value(dimension, row, slot, values)) }
                    group = groupFor(key)
                }
                accumulators[group].events += 1
                if isPageView { accumulators[group].pageviews += 1 }
                if isConversion { accumulators[group].conversions += 1 }
                if row.event == purchase, let amount = amount(row.amount) {
                    let currency = row.currency == rows.empty ? "unknown" : rows.strings.string(row.currency)
                    accumulators[group].revenue[currency, default: 0] += amount
                }
                visitorGroups[group] = (visitorGroups[group] ?? false) || isConversion
                guard needsVisits else { continue }
                let visitKey = Int64(visit) << 32 | Int64(group)
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
        }
        var result: [[String]: Accumulator] = [:]
        for (key, index) in groupIndex {
            let names = zip(query.dimensions, key).map { dimension, value in label(dimension, value) }
            result[names, default: Accumulator()].add(accumulators[index])
        }
        return result
    }

    private mutating func singleGroup(_ value: Int64) -> Int {
        if let index = singleGroupIndex[value] { return index }
        let index = groupFor([value])
        singleGroupIndex[value] = index
        return index
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

    /// A dimension's value as a number: a string id, or a time bucket's start.
    private mutating func value(_ dimension: Query.Dimension, _ row: EventRow, _ visit: Int, _ visitValues: [Int64]) -> Int64 {
        switch dimension {
        case .time(let bucket): return calendar.bucket(of: row.timestamp, bucket)
        case .eventName: return Int64(row.event)
        case .eventPage: return Int64(row.path)
        case .eventProperty: return Int64(row.property)
        case .eventHostname:
            if let host = hosts[row.origin] { return host }
            let host = Int64(id(VisitAttributes.host(rows.strings.string(row.origin))))
            hosts[row.origin] = host
            return host
        default:
            return visitValues[visit * visitDimensions.count + visitDimensions.firstIndex(of: dimension)!]
        }
    }

    /// The values of `visitDimensions` for a visit, from its first event.
    private mutating func valuesOfVisit(_ first: EventRow) -> [Int64] {
        let key = FirstEvent(path: first.path, origin: first.origin, rest: first.rest, referrer: first.referrer, userAgent: first.userAgent)
        if let cached = visitValueCache[key] { return cached }
        let attributes = VisitAttributes(first: first, strings: rows.strings, agents: &agents)
        let values = visitDimensions.map { dimension -> Int64 in
            let text: String = switch dimension {
            case .visitEntryPage: rows.strings.string(attributes.entryPage)
            case .visitSource: attributes.source
            case .visitReferrer: attributes.referrer
            case .visitUTMSource: attributes.utmSource
            case .visitUTMMedium: attributes.utmMedium
            case .visitUTMCampaign: attributes.utmCampaign
            case .visitBrowser: attributes.agent.browser
            case .visitOS: attributes.agent.os
            case .visitChannel: attributes.channel
            default: attributes.agent.device
            }
            return Int64(id(text))
        }
        visitValueCache[key] = values
        return values
    }

    /// Whether a visit's first event came direct (no campaign, no outside referrer).
    private mutating func isDirect(_ first: EventRow) -> Bool {
        VisitAttributes(first: first, strings: rows.strings, agents: &agents).source == VisitAttributes.direct
    }

    /// Whether filter `index` keeps a value, decided once per distinct value.
    private mutating func decide(_ index: Int, _ value: Int64) -> Bool {
        if let decision = filterDecisions[index][value] { return decision }
        let filter = query.filters[index]
        let decision = filter.matches(label(filter.dimension, value))
        filterDecisions[index][value] = decision
        return decision
    }

    /// Turns a dimension value back into the text the answer shows.
    private func label(_ dimension: Query.Dimension, _ value: Int64) -> String {
        switch dimension {
        case .time(let bucket): calendar.label(value, bucket)
        case .eventProperty: value == Int64(rows.empty) ? "(none)" : rows.strings.string(UInt32(value))
        default: rows.strings.string(UInt32(value))
        }
    }
}
