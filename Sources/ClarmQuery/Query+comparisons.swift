import ClarmEvents
import ClarmJSON

/// `"comparisons": {"mode": …}`: each row of the answer also carries the same group's values over an earlier
/// period (docs/QUERIES.md, "Comparisons").
extension Query {
    public enum ComparisonMode: String, Sendable {
        case previousPeriod = "previous_period"
        case yearOverYear = "year_over_year"
    }

    /// The comparison a query asks for, or nil; `"all"` has no earlier period.
    static func comparison(_ value: JSONValue?, from: Int64, to: Int64) throws(QueryError) -> ComparisonMode? {
        guard let value, value != .null else { return nil }
        guard case .object(let members) = value, members.allSatisfy({ $0.key == "mode" }),
              let name = value["mode"]?.string, let mode = ComparisonMode(rawValue: name)
        else {
            throw QueryError(field: "comparisons", problem: #"must be {"mode": "previous_period"} or {"mode": "year_over_year"}"#)
        }
        guard from != Int64.min else {
            throw QueryError(field: "comparisons", problem: #"the date_range "all" has no earlier period"#)
        }
        return mode
    }

    /// The earlier period's `[from, to)`, or an error when it would start before year 0000. It may be empty:
    /// a year before `[2028-02-28, 2028-02-29)` both ends are 2027-02-28.
    public func comparisonRange() throws(QueryError) -> (from: Int64, to: Int64)? {
        guard let comparison else { return nil }
        let range = (from: earlier(from, comparison), to: earlier(to, comparison))
        guard Self.writableInstants.contains(range.from) else {
            throw QueryError(field: "comparisons", problem: "the earlier period falls before year 0000")
        }
        return range
    }

    /// Where an instant of the period lands in the earlier one. `previous_period`: back by the range's length,
    /// counted in local days when both ends are local midnights (so a DST change inside does not shift the
    /// days), else in milliseconds. `year_over_year`: the same wall-clock time a year earlier (29 February
    /// becomes 28 February).
    func earlier(_ t: Int64, _ mode: ComparisonMode) -> Int64 {
        let zone = timezone
        func wall(_ t: Int64) -> Int64 { t + Int64(zone.offset(atSecond: LocalCalendar.floor(t, 1000) / 1000)) * 1000 }
        switch mode {
        case .previousPeriod:
            let fromDay = zone.localDay(at: from), toDay = zone.localDay(at: to)
            if zone.startOfLocalDay(fromDay) == from && zone.startOfLocalDay(toDay) == to {
                return zone.instant(ofWallClock: wall(t) - Int64(toDay - fromDay) * LocalCalendar.day)
            }
            return t - (to - from)
        case .yearOverYear:
            let local = wall(t)
            let day = Int(LocalCalendar.floor(local, LocalCalendar.day) / LocalCalendar.day)
            let (y, m, d) = Timestamp.civilFromDays(day)
            let shifted = Timestamp.daysFromCivil(year: y - 1, month: m, day: min(d, Timestamp.daysInMonth(year: y - 1, month: m)))
            return zone.instant(ofWallClock: local + Int64(shifted - day) * LocalCalendar.day)
        }
    }

    /// The query over the earlier period, every group of it (no paging).
    func comparisonQuery(from: Int64, to: Int64) -> Query {
        var earlier = self
        earlier.from = from
        earlier.to = to
        earlier.comparison = nil
        earlier.orderBy = []
        earlier.limit = Int.max
        earlier.offset = 0
        return earlier
    }

    /// A row's dimension values as the earlier period names its group: each time bucket is the bucket holding
    /// where the row's bucket start lands (`earlier`); other values are unchanged.
    func comparisonDimensions(_ values: [String], _ mode: ComparisonMode) -> [String] {
        zip(dimensions, values).map { dimension, value in
            guard case .time(let bucket) = dimension, let start = bucketStart(value, bucket) else { return value }
            let moved = earlier(start, mode)
            let calendar = LocalCalendar(zone: timezone, from: moved, to: moved + 1)
            return calendar.label(calendar.bucket(of: moved, bucket), bucket)
        }
    }

    /// The instant a time bucket's label starts at.
    private func bucketStart(_ label: String, _ bucket: TimeBucket) -> Int64? {
        switch bucket {
        case .hour:
            return LocalCalendar.instant(ofHourLabel: label)
        case .day, .week, .month:
            let date = bucket == .month ? label + "-01" : label
            guard let midnight = Array((date + "T00:00:00Z").utf8).withUnsafeBytes({ Timestamp.parse($0) }) else { return nil }
            return timezone.startOfLocalDay(Int(LocalCalendar.floor(midnight, LocalCalendar.day) / LocalCalendar.day))
        }
    }
}

/// The earlier period's values beside each row of an answer.
public struct QueryComparison: Sendable {
    public struct Row: Sendable {
        public var dimensions: [String]
        public var metrics: [MetricValue]
        /// Per metric: the percent change (rounded to an integer; 100 from 0 to anything, 0 from 0 to 0) for
        /// counts and `visit_duration`, the difference in points (one decimal) for `bounce_rate` and
        /// `conversion_rate`; nil for `total_revenue`.
        public var change: [Double?]
    }

    public var from: Int64
    public var to: Int64
    /// One per row of the answer, in its order.
    public var rows: [Row]
}

extension QueryEngine {
    /// Runs the query over its earlier period and pairs every row of `result` with the same group there
    /// (zeros when the earlier period has no such group). Nil when the query asks for no comparison.
    public func compare(_ query: Query, _ result: QueryResult) throws(QueryError) -> QueryComparison? {
        guard let mode = query.comparison, let range = try query.comparisonRange() else { return nil }
        let earlier = try run(query.comparisonQuery(from: range.from, to: range.to))
        var byGroup: [[String]: [MetricValue]] = [:]
        for row in earlier.rows { byGroup[row.dimensions] = row.metrics }
        let empty = Accumulator()
        let rows = result.rows.map { row in
            let dimensions = query.comparisonDimensions(row.dimensions, mode)
            let metrics = byGroup[dimensions] ?? query.metrics.map { empty.value($0) }
            let change = zip(query.metrics, zip(row.metrics, metrics)).map { metric, pair in
                Self.change(metric, now: pair.0, before: pair.1)
            }
            return QueryComparison.Row(dimensions: dimensions, metrics: metrics, change: change)
        }
        return QueryComparison(from: range.from, to: range.to, rows: rows)
    }

    static func change(_ metric: Query.Metric, now: MetricValue, before: MetricValue) -> Double? {
        func number(_ value: MetricValue) -> Double? {
            switch value {
            case .count(let n): Double(n)
            case .decimal(let d): d
            case .money: nil
            }
        }
        guard let now = number(now), let before = number(before) else { return nil }
        switch metric {
        case .bounce_rate, .conversion_rate:
            return Accumulator.oneDecimal(now - before)
        default:
            if before == 0 { return now == 0 ? 0 : 100 }
            return ((now - before) / before * 100).rounded(.toNearestOrAwayFromZero)
        }
    }
}
