import ClarmEvents
import ClarmStorage

/// Computes one shard's groups: visits per visitor, visit attributes, filters, then the sums per group.
///
/// Dimension values are kept as numbers while aggregating (a string id, or a time bucket's start) and turned
/// into text once per group at the end; visit attributes are derived once per distinct first event's
/// (URL, referrer, user agent), and a filter is decided once per distinct value.
struct ShardAggregation {
    let query: Query
    /// The query's strings, and the rows read (`ShardAggregation+stream.swift`).
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
    /// The property key the scan read into `EventRow.property`.
    private let scannedPropertyKey: String?
    /// Per property key beyond the scan's own: its value id per raw properties id.
    private var propertyValues: [String: [UInt32: UInt32]] = [:]
    private var propertyReader = PropertyReader()
    /// The query zone's offsets over the rows' instants, for time buckets.
    private let calendar: LocalCalendar
    /// With `attribution_scope: person`, each identified visitor's person's first event, by the visitor's
    /// string id (`PersonFirstTouch.swift`).
    var personFirstRows: [UInt32: EventRow] = [:]

    /// What visit attributes depend on.
    private struct FirstEvent: Hashable {
        var path, origin, rest, referrer, userAgent, country, region, city: UInt32
    }

    /// Per-visitor working state, kept between visitors so their tables are allocated once.
    private let attributing: Bool
    private let pageView: UInt32, purchase: UInt32, goal: UInt32
    private var inRange: [EventRow] = []
    /// `history` index of each `inRange` row.
    private var historyIndex: [Int] = []
    private var historyVisits = Visits(), visits = Visits()
    private var historySource: [Bool] = [], lastTouch: [Int] = []
    private var visitValues: [Int64] = []
    /// The current visitor's visits per group, and where each (visit, group) is among them.
    private var visitGroups: [(key: Int64, count: Int, first: Int64, last: Int64, pageViewOnly: Bool)] = []
    private var visitGroupIndex: [Int64: Int] = [:]
    /// Numbers the visitors; per group, the last visitor counted, and the last counted as converting.
    private var visitorSerial = 0
    private var visitorCounted: [Int] = [], converterCounted: [Int] = []
    /// For queries of one dimension: the last value grouped and its group (a visitor's rows often repeat it).
    private var lastSingle: (value: Int64, group: Int) = (.min, -1)
    private var key: [Int64] = []

    /// `calendar` covers at least the instants of the rows in the query's range.
    init(query: Query, calendar: LocalCalendar) {
        self.query = query
        var visitDimensions: [Query.Dimension] = []
        for dimension in query.dimensions + query.filters.map(\.dimension) where dimension.isVisit && !visitDimensions.contains(dimension) {
            visitDimensions.append(dimension)
        }
        self.visitDimensions = visitDimensions
        filterDecisions = Array(repeating: [:], count: query.filters.count)
        needsVisits = query.needsVisits
        scannedPropertyKey = query.propertyKeys.first
        self.calendar = calendar
        // With attribution the rows cover the visitors' whole history; metrics still see only the range.
        attributing = query.attribution != nil && !visitDimensions.isEmpty
        var rows = ShardRows()
        func intern(_ text: String) -> UInt32 { Array(text.utf8).withUnsafeBytes { rows.strings.id(for: $0) } }
        pageView = intern("page_view")
        purchase = intern("purchase")
        goal = intern("goal_achieved")
        self.rows = rows
    }

    /// Adds rows grouped by visitor (each visitor's rows together, in time order, ties in storage order) whose
    /// visitors have no rows anywhere else in the query.
    mutating func add(visitorsIn everything: ArraySlice<EventRow>) {
        var begin = everything.startIndex
        while begin < everything.endIndex {
            var finish = begin + 1
            while finish < everything.endIndex && everything[finish].visitor == everything[begin].visitor { finish += 1 }
            add(visitor: everything[begin..<finish])
            begin = finish
        }
    }

    /// Adds one visitor's rows, in time order.
    private mutating func add(visitor history: ArraySlice<EventRow>) {
        let all: ArraySlice<EventRow>
        if attributing {
            inRange.removeAll(keepingCapacity: true)
            historyIndex.removeAll(keepingCapacity: true)
            for i in history.indices where history[i].timestamp >= query.from && history[i].timestamp < query.to {
                inRange.append(history[i])
                historyIndex.append(i)
            }
            if inRange.isEmpty { return }
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
        visitGroupIndex.removeAll(keepingCapacity: visitGroupIndex.capacity <= 1024)
        visitorSerial += 1
        for i in start..<end {
            let row = all[i]
            let visit = needsVisits ? visits.visitOf[i - start] : 0
            let isPageView = row.event == pageView
            let isConversion = row.event == purchase || row.event == goal
            // A conversion's visit dimensions come from the visit its attribution model credits.
            var values: [Int64] = []
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
            guard query.keeps({ decide($0, value(query.filters[$0].dimension, row, slot, values.isEmpty ? visitValues : values)) })
            else { continue }
            let group: Int
            switch query.dimensions.count {
            case 0: group = accumulators.isEmpty ? groupFor([]) : 0
            case 1: group = singleGroup(value(query.dimensions[0], row, slot, values.isEmpty ? visitValues : values))
            default:
                key.removeAll(keepingCapacity: true)
                for dimension in query.dimensions { key.append(value(dimension, row, slot, values.isEmpty ? visitValues : values)) }
                group = groupFor(key)
            }
            accumulators[group].events += 1
            if isPageView { accumulators[group].pageviews += 1 }
            if isConversion { accumulators[group].conversions += 1 }
            if row.event == purchase, let amount = amount(row.amount) {
                let currency = row.currency == rows.empty ? "unknown" : rows.strings.string(row.currency)
                accumulators[group].revenue[currency, default: 0] += amount
            }
            if visitorCounted[group] != visitorSerial {
                visitorCounted[group] = visitorSerial
                accumulators[group].visitors += 1
            }
            if isConversion && converterCounted[group] != visitorSerial {
                converterCounted[group] = visitorSerial
                accumulators[group].convertingVisitors += 1
            }
            guard needsVisits else { continue }
            let visitKey = Int64(visit) << 32 | Int64(group)
            // A visit's rows mostly follow each other in one group: the last entry is checked before the table.
            var entry = visitGroups.count - 1
            if entry < 0 || visitGroups[entry].key != visitKey {
                if let found = visitGroupIndex[visitKey] {
                    entry = found
                } else {
                    visitGroupIndex[visitKey] = visitGroups.count
                    visitGroups.append((visitKey, 0, row.timestamp, row.timestamp, isPageView))
                    entry = visitGroups.count - 1
                }
            }
            visitGroups[entry].count += 1
            visitGroups[entry].last = row.timestamp
            if visitGroups[entry].count > 1 { visitGroups[entry].pageViewOnly = false }
        }
        for entry in visitGroups {
            let group = Int(entry.key & 0xFFFF_FFFF)
            accumulators[group].visits += 1
            accumulators[group].durationSum += entry.last - entry.first
            if entry.count == 1 && entry.pageViewOnly { accumulators[group].bouncedVisits += 1 }
        }
    }

    /// The groups so far, by their dimension values' text.
    func result() -> [[String]: Accumulator] {
        var result: [[String]: Accumulator] = [:]
        for (key, index) in groupIndex {
            let names = zip(query.dimensions, key).map { dimension, value in label(dimension, value) }
            result[names, default: Accumulator()].add(accumulators[index])
        }
        return result
    }

    private mutating func singleGroup(_ value: Int64) -> Int {
        if lastSingle.value == value { return lastSingle.group }
        let index = singleGroupIndex[value] ?? groupFor([value])
        singleGroupIndex[value] = index
        lastSingle = (value, index)
        return index
    }

    private mutating func groupFor(_ key: [Int64]) -> Int {
        if let index = groupIndex[key] { return index }
        let index = accumulators.count
        groupIndex[key] = index
        accumulators.append(Accumulator())
        visitorCounted.append(0)
        converterCounted.append(0)
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
        case .eventProperty(let key):
            return Int64(key == scannedPropertyKey ? row.property : property(key, of: row.properties))
        case .eventHostname:
            if let host = hosts[row.origin] { return host }
            let host = Int64(id(VisitAttributes.host(rows.strings.string(row.origin))))
            hosts[row.origin] = host
            return host
        default:
            return visitValues[visit * visitDimensions.count + visitDimensions.firstIndex(of: dimension)!]
        }
    }

    /// The value of property `key` (the last member of that name; `empty` when none), read once per distinct
    /// properties text.
    private mutating func property(_ key: String, of properties: UInt32) -> UInt32 {
        if let cached = propertyValues[key]?[properties] { return cached }
        var result = rows.empty
        var reader = propertyReader
        let text = Array(rows.strings.value(properties))
        text.withUnsafeBytes { raw in
            reader.forEachMember(raw) { name, value in
                if name.elementsEqual(key.utf8) { result = rows.strings.id(for: value) }
            }
        }
        propertyReader = reader
        propertyValues[key, default: [:]][properties] = result
        return result
    }

    /// The values of `visitDimensions` for a visit, from its first event.
    private mutating func valuesOfVisit(_ first: EventRow) -> [Int64] {
        let key = FirstEvent(path: first.path, origin: first.origin, rest: first.rest, referrer: first.referrer, userAgent: first.userAgent,
                             country: first.country, region: first.region, city: first.city)
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
            case .visitCountry: rows.strings.string(first.country)
            case .visitRegion: rows.strings.string(first.region)
            case .visitCity: rows.strings.string(first.city)
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
