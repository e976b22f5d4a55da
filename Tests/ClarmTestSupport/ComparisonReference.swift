import Foundation
import ClarmEvents
import ClarmQuery

/// docs/QUERIES.md "Comparisons" computed apart from the engine: the earlier period and each bucket's place in
/// it from Foundation's `Calendar` in the query's zone, the earlier values from `QueryReference.run`.
public enum ComparisonReference {
    public struct Row {
        public var dimensions: [String]
        public var metrics: [MetricValue]
        public var change: [Double?]
    }

    /// The earlier period of the query and, for every group of the query's own answer, its comparison row.
    public static func run(_ events: [EventRecord], _ query: Query, mode: Query.ComparisonMode)
        -> (from: Int64, to: Int64, rows: [[String]: Row]) {
        var calendar = Calendar(identifier: .iso8601)
        let zone = TimeZone(identifier: query.timezone.name)!
        calendar.timeZone = zone
        func date(_ t: Int64) -> Date { Date(timeIntervalSince1970: Double(t) / 1000) }
        func millis(_ d: Date) -> Int64 { Int64((d.timeIntervalSince1970 * 1000).rounded()) }
        let from = date(query.from), to = date(query.to)
        let wholeDays = calendar.startOfDay(for: from) == from && calendar.startOfDay(for: to) == to
        let days = calendar.dateComponents([.day], from: from, to: to).day!
        func earlier(_ t: Date) -> Date {
            switch mode {
            case .previousPeriod:
                wholeDays ? calendar.date(byAdding: .day, value: -days, to: t)! : t.addingTimeInterval(-to.timeIntervalSince(from))
            case .yearOverYear:
                calendar.date(byAdding: .year, value: -1, to: t)!
            }
        }
        var earlierQuery = query
        earlierQuery.from = millis(earlier(from))
        earlierQuery.to = millis(earlier(to))
        let before = QueryReference.run(events, earlierQuery)

        func start(_ label: String, _ bucket: Query.TimeBucket) -> Date {
            if bucket == .hour { return ISO8601DateFormatter().date(from: label)! }
            let parts = label.split(separator: "-").map { Int($0)! }
            return calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts.count > 2 ? parts[2] : 1))!
        }
        var rows: [[String]: Row] = [:]
        for (key, metrics) in QueryReference.run(events, query) {
            let moved = zip(query.dimensions, key).map { dimension, value -> String in
                guard case .time(let bucket) = dimension else { return value }
                return QueryReference.timeLabel(millis(earlier(start(value, bucket))), bucket, zone: zone)
            }
            let earlierMetrics = before[moved] ?? query.metrics.map { metric in
                switch metric {
                case .bounce_rate, .visit_duration, .conversion_rate: .decimal(0)
                case .total_revenue: .money([:])
                default: .count(0)
                }
            }
            let change = zip(query.metrics, zip(metrics, earlierMetrics)).map { metric, pair -> Double? in
                func number(_ value: MetricValue) -> Double? {
                    switch value {
                    case .count(let n): Double(n)
                    case .decimal(let d): d
                    case .money: nil
                    }
                }
                guard let now = number(pair.0), let then = number(pair.1) else { return nil }
                if metric == .bounce_rate || metric == .conversion_rate { return QueryReference.round1(now - then) }
                return then == 0 ? (now == 0 ? 0 : 100) : ((now - then) / then * 100).rounded(.toNearestOrAwayFromZero)
            }
            rows[key] = Row(dimensions: moved, metrics: earlierMetrics, change: change)
        }
        return (earlierQuery.from, earlierQuery.to, rows)
    }
}
