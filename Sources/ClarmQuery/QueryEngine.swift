import ClarmEvents
import ClarmStorage
import Dispatch
import Synchronization

/// One row of a query's answer.
public struct QueryResultRow: Sendable {
    public var dimensions: [String]
    public var metrics: [MetricValue]
}

public enum MetricValue: Sendable, Equatable {
    case count(Int)
    /// A percentage or a mean, rounded to one decimal.
    case decimal(Double)
    /// Revenue per currency code.
    case money([String: Double])
}

public struct QueryResult: Sendable {
    public var rows: [QueryResultRow]
    public var totalRows: Int
}

/// Runs aggregate queries over every shard in parallel; see `docs/QUERIES.md` for the definitions.
public struct QueryEngine: Sendable {
    public let store: Store
    /// Stops the engine's scans at a deadline, a disconnect or a row cap (`QueryControl`).
    public let control: QueryControl
    /// Whether visitors found in one segment only are aggregated as their segment is read (the default);
    /// without it every row is gathered and sorted first, as a reference for tests.
    var streamsVisitors = true

    public init(store: Store, control: QueryControl = .unlimited) {
        self.store = store
        self.control = control
    }

    public func run(_ query: Query) throws(QueryError) -> QueryResult {
        let personFirst = try personFirstEvents(query)
        let shards = store.snapshot()
        let partials = Mutex([Int: [ [String]: Accumulator ]]())
        let failure = Mutex<SegmentCorruption?>(nil)
        DispatchQueue.concurrentPerform(iterations: shards.count) { index in
            do throws(SegmentCorruption) {
                var selection = RowSelection(site: query.site)
                // Attribution looks at each visitor's whole history; the aggregation keeps metrics to the range.
                let attributing = query.attribution != nil && (query.dimensions + query.filters.map(\.dimension)).contains { $0.isVisit }
                selection.from = attributing ? .min : query.from
                selection.to = attributing ? .max : query.to
                selection.columns = query.segmentColumns
                selection.events = query.pushedDownEventNames
                selection.propertyKey = query.propertyKeys.first.map { Array($0.utf8) }
                selection.control = control
                let groups = try ShardAggregation.run(query, on: shards[index], selection, streaming: streamsVisitors,
                                                      personFirst: personFirst.isEmpty ? [:] : personFirst[index])
                if control.stopped != nil { return }
                partials.withLock { $0[index] = groups }
            } catch {
                failure.withLock { $0 = error }
            }
        }
        if let failure = failure.withLock({ $0 }) {
            throw QueryError(field: "storage", problem: "damaged data: \(failure)")
        }
        try control.check()
        // Visitors live in exactly one shard, so every count adds up across shards.
        var merged: [[String]: Accumulator] = [:]
        for (_, groups) in partials.withLock({ $0 }) {
            for (key, accumulator) in groups { merged[key, default: Accumulator()].add(accumulator) }
        }
        if query.dimensions.isEmpty && merged.isEmpty { merged[[]] = Accumulator() }
        var rows = merged.map { key, accumulator in
            QueryResultRow(dimensions: key, metrics: query.metrics.map { accumulator.value($0) })
        }
        Self.sort(&rows, query)
        let total = rows.count
        let page = rows.dropFirst(query.offset).prefix(query.limit)
        return QueryResult(rows: Array(page), totalRows: total)
    }

    /// Explicit `order_by` first; then time dimensions ascending, else the first metric descending; ties by dimensions.
    static func sort(_ rows: inout [QueryResultRow], _ query: Query) {
        var order = query.orderBy
        if order.isEmpty {
            if let time = query.dimensions.first(where: { if case .time = $0 { true } else { false } }) {
                order = [(.dimension(time), false)]
            } else if let metric = query.metrics.first, metric != .total_revenue {
                order = [(.metric(metric), true)]
            }
        }
        func sortValue(_ row: QueryResultRow, _ key: Query.OrderKey) -> (Double, String) {
            switch key {
            case .metric(let metric):
                switch row.metrics[query.metrics.firstIndex(of: metric)!] {
                case .count(let n): (Double(n), "")
                case .decimal(let d): (d, "")
                case .money: (0, "")
                }
            case .dimension(.time(.hour)):
                // Hour labels carry their UTC offset; ordered by instant, a fall-back's repeated hour sorts right.
                (Double(LocalCalendar.instant(ofHourLabel: row.dimensions[query.dimensions.firstIndex(of: .time(.hour))!])), "")
            case .dimension(let dimension):
                (0, row.dimensions[query.dimensions.firstIndex(of: dimension)!])
            }
        }
        rows.sort { a, b in
            for (key, descending) in order {
                let x = sortValue(a, key), y = sortValue(b, key)
                if x != y { return descending ? (x.0, x.1) > (y.0, y.1) : (x.0, x.1) < (y.0, y.1) }
            }
            return a.dimensions.lexicographicallyPrecedes(b.dimensions)
        }
    }
}

extension Query {
    /// Whether anything in the query depends on visits, which are formed from every event in the range
    /// before filters apply.
    var needsVisits: Bool {
        metrics.contains { [.visits, .bounce_rate, .visit_duration, .views_per_visit].contains($0) }
            || (dimensions + filters.map(\.dimension)).contains { $0.isVisit }
    }

    /// Event names an `is` filter on `event:name` allows, when the scan may drop the other events early
    /// (only when no visit needs them).
    var pushedDownEventNames: Set<[UInt8]>? {
        guard !needsVisits, filterTree == nil else { return nil }
        var allowed: Set<String>? = nil
        for filter in filters where filter.dimension == .eventName && filter.op == .is {
            allowed = allowed.map { $0.intersection(filter.values) } ?? Set(filter.values)
        }
        return allowed.map { Set($0.map { Array($0.utf8) }) }
    }

    /// The `event:props` keys of the dimensions and filters, each once, in order.
    var propertyKeys: [String] {
        var keys: [String] = []
        for case .eventProperty(let key) in dimensions + filters.map(\.dimension) where !keys.contains(key) { keys.append(key) }
        return keys
    }

    /// The segment columns beyond visitor, session and event name that answering needs.
    var segmentColumns: Set<SegmentFormat.Column> {
        var columns: Set<SegmentFormat.Column> = []
        if metrics.contains(.total_revenue) { columns.formUnion([.amount, .currency]) }
        // The scan reads one property key into `EventRow.property`; further keys come out of the raw properties.
        if propertyKeys.count > 1 { columns.insert(.properties) }
        for dimension in dimensions + filters.map(\.dimension) {
            switch dimension {
            case .eventPage: columns.insert(.path)
            case .eventHostname: columns.insert(.origin)
            case .time, .eventName, .eventProperty: break
            case .visitCountry: columns.insert(.country)
            case .visitRegion: columns.insert(.region)
            case .visitCity: columns.insert(.city)
            default: columns.formUnion([.path, .origin, .rest, .referrer, .user_agent])  // visit attributes
            }
        }
        // Attribution asks of every visit whether it came direct, from its first event's URL and referrer.
        if attribution != nil { columns.formUnion([.path, .origin, .rest, .referrer, .user_agent]) }
        return columns
    }
}

/// Sums over one group of events.
struct Accumulator: Sendable {
    var visitors = 0
    var visits = 0
    var pageviews = 0
    var events = 0
    var bouncedVisits = 0
    var durationSum: Int64 = 0
    var conversions = 0
    var convertingVisitors = 0
    var revenue: [String: Double] = [:]

    mutating func add(_ other: Accumulator) {
        visitors += other.visitors
        visits += other.visits
        pageviews += other.pageviews
        events += other.events
        bouncedVisits += other.bouncedVisits
        durationSum += other.durationSum
        conversions += other.conversions
        convertingVisitors += other.convertingVisitors
        revenue.merge(other.revenue, uniquingKeysWith: +)
    }

    func value(_ metric: Query.Metric) -> MetricValue {
        switch metric {
        case .visitors: .count(visitors)
        case .visits: .count(visits)
        case .pageviews: .count(pageviews)
        case .events: .count(events)
        case .conversions: .count(conversions)
        case .bounce_rate: .decimal(visits == 0 ? 0 : Self.oneDecimal(100 * Double(bouncedVisits) / Double(visits)))
        case .visit_duration: .decimal(visits == 0 ? 0 : Self.oneDecimal(Double(durationSum) / 1000 / Double(visits)))
        case .conversion_rate: .decimal(visitors == 0 ? 0 : Self.oneDecimal(100 * Double(convertingVisitors) / Double(visitors)))
        case .total_revenue: .money(revenue)
        case .views_per_visit: .decimal(visits == 0 ? 0 : (100 * Double(pageviews) / Double(visits)).rounded(.toNearestOrAwayFromZero) / 100)
        }
    }

    /// Rounds half away from zero, as SQL's ROUND(x, 1) does.
    static func oneDecimal(_ value: Double) -> Double {
        (value * 10).rounded(.toNearestOrAwayFromZero) / 10
    }
}
