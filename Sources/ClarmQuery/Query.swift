import ClarmEvents
import ClarmJSON
import ClarmRegex

/// An aggregate query (`POST /api/query`), checked and normalised. See `docs/QUERIES.md` for every definition.
public struct Query: Sendable {
    public enum Metric: String, CaseIterable, Sendable {
        case visitors, visits, pageviews, events, bounce_rate, visit_duration, conversions, conversion_rate, total_revenue
        case views_per_visit
    }

    public enum Dimension: Hashable, Sendable {
        case time(TimeBucket)
        case eventName, eventPage, eventHostname
        case eventProperty(String)
        case visitEntryPage, visitSource, visitReferrer, visitUTMSource, visitUTMMedium, visitUTMCampaign
        case visitBrowser, visitOS, visitDevice
        case visitChannel
        case visitCountry, visitRegion, visitCity

        public init?(_ name: String) {
            switch name {
            case "time:hour": self = .time(.hour)
            case "time:day": self = .time(.day)
            case "time:week": self = .time(.week)
            case "time:month": self = .time(.month)
            case "event:name": self = .eventName
            case "event:page": self = .eventPage
            case "event:hostname": self = .eventHostname
            case "visit:entry_page": self = .visitEntryPage
            case "visit:source": self = .visitSource
            case "visit:referrer": self = .visitReferrer
            case "visit:utm_source": self = .visitUTMSource
            case "visit:utm_medium": self = .visitUTMMedium
            case "visit:utm_campaign": self = .visitUTMCampaign
            case "visit:browser": self = .visitBrowser
            case "visit:os": self = .visitOS
            case "visit:device": self = .visitDevice
            case "visit:channel": self = .visitChannel
            case "visit:country": self = .visitCountry
            case "visit:region": self = .visitRegion
            case "visit:city": self = .visitCity
            default:
                guard name.hasPrefix("event:props:"), name.count > 12 else { return nil }
                self = .eventProperty(String(name.dropFirst(12)))
            }
        }

        public var name: String {
            switch self {
            case .time(let bucket): "time:\(bucket.rawValue)"
            case .eventName: "event:name"
            case .eventPage: "event:page"
            case .eventHostname: "event:hostname"
            case .eventProperty(let key): "event:props:\(key)"
            case .visitEntryPage: "visit:entry_page"
            case .visitSource: "visit:source"
            case .visitReferrer: "visit:referrer"
            case .visitUTMSource: "visit:utm_source"
            case .visitUTMMedium: "visit:utm_medium"
            case .visitUTMCampaign: "visit:utm_campaign"
            case .visitBrowser: "visit:browser"
            case .visitOS: "visit:os"
            case .visitDevice: "visit:device"
            case .visitChannel: "visit:channel"
            case .visitCountry: "visit:country"
            case .visitRegion: "visit:region"
            case .visitCity: "visit:city"
            }
        }

        var isVisit: Bool { name.hasPrefix("visit:") }
    }

    public enum TimeBucket: String, Sendable {
        case hour, day, week, month
    }

    public enum FilterOperator: String, Sendable {
        case `is`, is_not, contains, contains_not, matches, matches_not
    }

    public struct Filter: Sendable {
        public let op: FilterOperator
        public let dimension: Dimension
        public let values: [String]
        /// False: letters match either case (`is`, `contains`: Unicode lowercase; patterns: ASCII letters).
        public let caseSensitive: Bool
        /// `values`, lowercased when the filter ignores case.
        private let compared: [String]
        /// `matches`, `matches_not`: the values compiled as alternatives.
        private let pattern: LinearRegex?

        /// `field` names the filter in the error a pattern that does not compile gets.
        public init(op: FilterOperator, dimension: Dimension, values: [String], caseSensitive: Bool = true,
                    field: String) throws(QueryError) {
            self.op = op
            self.dimension = dimension
            self.values = values
            self.caseSensitive = caseSensitive
            compared = caseSensitive ? values : values.map { $0.lowercased() }
            pattern = op == .matches || op == .matches_not
                ? try Self.compile(values, caseInsensitive: !caseSensitive, field: field) : nil
        }

        func matches(_ value: String) -> Bool {
            // A pattern folds case itself.
            let value = caseSensitive || pattern != nil ? value : value.lowercased()
            return switch op {
            case .is: compared.contains(value)
            case .is_not: !compared.contains(value)
            case .contains: compared.contains { value.contains($0) }
            case .contains_not: !compared.contains { value.contains($0) }
            case .matches: pattern!.matches(value)
            case .matches_not: !pattern!.matches(value)
            }
        }
    }

    public enum OrderKey: Equatable, Sendable {
        case metric(Metric)
        case dimension(Dimension)
    }

    public var site: String
    /// `[from, to)` in UTC milliseconds.
    public var from: Int64
    public var to: Int64
    public var metrics: [Metric]
    public var dimensions: [Dimension]
    public var filters: [Filter]
    /// How `filters` combine (indexes into it); nil: all of them hold.
    public var filterTree: FilterTree? = nil
    public var orderBy: [(key: OrderKey, descending: Bool)]
    public var limit: Int
    public var offset: Int
    /// How conversions are credited to visit dimensions; nil: to the visit they happened in.
    public var attribution: Attribution?
    /// The zone whose calendar buckets and relative ranges follow: the query's `timezone`, else the site's.
    public var timezone: TimeZoneRules = .utc
    /// The earlier period each row is compared with (`Query+comparisons.swift`); nil: none.
    public var comparison: ComparisonMode? = nil
    /// Whose first touch `first_touch` credits (`Query+attributionScope.swift`).
    public var attributionScope: AttributionScope = .visitor

    public enum Attribution: String, Sendable {
        case firstTouch = "first_touch"
        case lastTouch = "last_touch"
    }

    public static let maxLimit = 10_000
}

/// A query that cannot run, naming the field at fault.
public struct QueryError: Error, Sendable, CustomStringConvertible {
    public let field: String
    public let problem: String
    public let kind: Kind

    public init(field: String, problem: String, kind: Kind = .invalid) {
        self.field = field
        self.problem = problem
        self.kind = kind
    }

    public var description: String { "\(field): \(problem)" }
}

extension Query {
    /// Parses a request body; `now` (UTC milliseconds) anchors relative ranges such as `"7d"`; `siteTimezone`
    /// names a site's registered zone (nil: UTC), used when the query names none.
    public static func parse(_ body: UnsafeRawBufferPointer, now: Int64, zones: TimeZoneDatabase = .system,
                             siteTimezone: (String) -> String? = { _ in nil }) throws(QueryError) -> Query {
        let json: JSONValue
        do throws(JSONError) {
            json = try JSONValue.parse(body)
        } catch {
            throw QueryError(field: "body", problem: error.description)
        }
        guard case .object = json else { throw QueryError(field: "body", problem: "must be a JSON object") }
        let known: Set<String> = ["site", "date_range", "metrics", "dimensions", "filters", "order_by", "limit", "offset", "attribution", "timezone", "comparisons", "attribution_scope"]
        if case .object(let members) = json, let unknown = members.first(where: { !known.contains($0.key) }) {
            throw QueryError(field: unknown.key, problem: "unknown field")
        }
        guard let site = json["site"]?.string, !site.isEmpty else {
            throw QueryError(field: "site", problem: "required: the site's host, such as shop.example.com")
        }
        let timezone = try zone(json["timezone"], site: site.lowercased(), zones: zones, siteTimezone: siteTimezone)
        let (from, to) = try parseRange(json["date_range"] ?? .string("30d"), now: now, zone: timezone)

        guard let metricValues = json["metrics"]?.array, !metricValues.isEmpty else {
            throw QueryError(field: "metrics", problem: "required: a non-empty array of metric names")
        }
        var metrics: [Metric] = []
        for (i, value) in metricValues.enumerated() {
            guard let name = value.string, let metric = Metric(rawValue: name) else {
                throw QueryError(field: "metrics[\(i)]", problem: "unknown metric \(describe(value)); known: \(Metric.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            metrics.append(metric)
        }

        var dimensions: [Dimension] = []
        if let value = json["dimensions"], value != .null {
            guard let values = value.array else { throw QueryError(field: "dimensions", problem: "must be an array") }
            for (i, value) in values.enumerated() {
                guard let name = value.string, let dimension = Dimension(name) else {
                    throw QueryError(field: "dimensions[\(i)]", problem: "unknown dimension \(describe(value))")
                }
                if dimensions.contains(dimension) { throw QueryError(field: "dimensions[\(i)]", problem: "repeated") }
                dimensions.append(dimension)
            }
        }

        let filters = try parseFilters(json["filters"], field: "filters")

        var orderBy: [(key: OrderKey, descending: Bool)] = []
        if let value = json["order_by"], value != .null {
            guard let values = value.array else { throw QueryError(field: "order_by", problem: "must be an array") }
            for (i, value) in values.enumerated() {
                let field = "order_by[\(i)]"
                guard let pair = value.array, pair.count == 2, let name = pair[0].string,
                      let direction = pair[1].string, direction == "asc" || direction == "desc"
                else { throw QueryError(field: field, problem: "must be [metric or dimension, \"asc\" or \"desc\"]") }
                if let metric = Metric(rawValue: name), metrics.contains(metric), metric != .total_revenue {
                    orderBy.append((.metric(metric), direction == "desc"))
                } else if let dimension = Dimension(name), dimensions.contains(dimension) {
                    orderBy.append((.dimension(dimension), direction == "desc"))
                } else {
                    throw QueryError(field: field, problem: "\(name) is not one of the query's metrics (other than total_revenue) or dimensions")
                }
            }
        }

        let limit = try integer(json["limit"], field: "limit", default: 10_000, range: 1...maxLimit)
        let offset = try integer(json["offset"], field: "offset", default: 0, range: 0...Int(Int32.max))
        var attribution: Attribution? = nil
        if let value = json["attribution"], value != .null {
            guard let name = value.string, let model = Attribution(rawValue: name) else {
                throw QueryError(field: "attribution", problem: "must be \"first_touch\" or \"last_touch\"")
            }
            attribution = model
        }
        return Query(site: site.lowercased(), from: from, to: to, metrics: metrics, dimensions: dimensions,
                     filters: filters, orderBy: orderBy, limit: limit, offset: offset, attribution: attribution, timezone: timezone,
                     comparison: try comparison(json["comparisons"], from: from, to: to),
                     attributionScope: try attributionScope(json["attribution_scope"], attribution: attribution))
    }

    /// A list of filters, `[operator, dimension, [values…]]` each; `field` names the list in errors.
    public static func parseFilters(_ value: JSONValue?, field listField: String) throws(QueryError) -> [Filter] {
        var filters: [Filter] = []
        guard let value, value != .null else { return filters }
        guard let values = value.array else { throw QueryError(field: listField, problem: "must be an array") }
        for (i, value) in values.enumerated() {
            let field = "\(listField)[\(i)]"
            guard let parts = value.array, parts.count == 3 else {
                throw QueryError(field: field, problem: "must be [operator, dimension, [values…]]")
            }
            guard let opName = parts[0].string, let op = FilterOperator(rawValue: opName) else {
                throw QueryError(field: field, problem: "unknown operator \(describe(parts[0])); known: is, is_not, contains, contains_not, matches, matches_not")
            }
            guard let name = parts[1].string, let dimension = Dimension(name) else {
                throw QueryError(field: field, problem: "unknown dimension \(describe(parts[1]))")
            }
            guard let list = parts[2].array, !list.isEmpty else {
                throw QueryError(field: field, problem: "values must be a non-empty array of strings")
            }
            var strings: [String] = []
            for item in list {
                guard let string = item.string else { throw QueryError(field: field, problem: "values must be strings") }
                strings.append(string)
            }
            filters.append(try Filter(op: op, dimension: dimension, values: strings, field: field))
        }
        return filters
    }

    static func integer(_ value: JSONValue?, field: String, default fallback: Int, range: ClosedRange<Int>) throws(QueryError) -> Int {
        guard let value, value != .null else { return fallback }
        guard case .number(let text) = value, let number = Int(text), range.contains(number) else {
            throw QueryError(field: field, problem: "must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }

    /// The query's zone: `timezone` when given (a tz database name), else the site's registered zone, else UTC.
    public static func zone(_ value: JSONValue?, site: String, zones: TimeZoneDatabase,
                            siteTimezone: (String) -> String?) throws(QueryError) -> TimeZoneRules {
        let name: String
        if let value, value != .null {
            guard let text = value.string else { throw QueryError(field: "timezone", problem: "must be a zone name such as Europe/Berlin") }
            name = text
        } else {
            name = siteTimezone(site) ?? "UTC"
        }
        do throws(TimeZoneFileError) {
            return try zones.rules(named: name)
        } catch {
            throw QueryError(field: "timezone", problem: "\(String(name.prefix(TimeZoneDatabase.maxNameBytes)).debugDescription): \(error)")
        }
    }

    /// `[from, to)`: two instants or dates (a date is local midnight), or `"day"` (today), `"7d"`, `"30d"`
    /// (ending with today), `"month"` (this calendar month up to the end of today), `"all"`; days are `zone`'s.
    public static func parseRange(_ value: JSONValue, now: Int64, zone: TimeZoneRules = .utc) throws(QueryError) -> (Int64, Int64) {
        let today = zone.localDay(at: now)
        let endOfToday = zone.startOfLocalDay(today + 1)
        switch value {
        case .string("day"): return (zone.startOfLocalDay(today), endOfToday)
        case .string("7d"): return (zone.startOfLocalDay(today - 6), endOfToday)
        case .string("30d"): return (zone.startOfLocalDay(today - 29), endOfToday)
        case .string("month"):
            let (year, month, _) = Timestamp.civilFromDays(today)
            return (zone.startOfLocalDay(Timestamp.daysFromCivil(year: year, month: month, day: 1)), endOfToday)
        case .string("all"): return (Int64.min, Int64.max)
        case .array(let ends) where ends.count == 2:
            guard let from = ends[0].string.flatMap({ instant($0, zone: zone) }), let to = ends[1].string.flatMap({ instant($0, zone: zone) }) else {
                throw QueryError(field: "date_range", problem: "each end must be an ISO 8601 instant (2026-11-01T00:00:00Z) or a date (2026-11-01)")
            }
            guard writableInstants.contains(from), writableInstants.contains(to) else {
                throw QueryError(field: "date_range", problem: "each end must fall in years 0000-9999 (UTC)")
            }
            guard from < to else { throw QueryError(field: "date_range", problem: "the start must come before the end") }
            return (from, to)
        default:
            throw QueryError(field: "date_range", problem: "must be [from, to], \"day\", \"7d\", \"30d\", \"month\" or \"all\"")
        }
    }

    /// Instants written as RFC 3339 with a four-digit year: 0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z.
    static let writableInstants = Int64(Timestamp.daysFromCivil(year: 0, month: 1, day: 1)) * 86_400_000
        ... Int64(Timestamp.daysFromCivil(year: 10_000, month: 1, day: 1)) * 86_400_000 - 1

    /// An ISO 8601 instant, or a date read as that day's start in `zone`.
    static func instant(_ text: String, zone: TimeZoneRules) -> Int64? {
        let bytes = Array(text.utf8)
        if bytes.count == 10 {
            guard let midnight = Array((text + "T00:00:00Z").utf8).withUnsafeBytes({ Timestamp.parse($0) }) else { return nil }
            return zone.startOfLocalDay(Int(LocalCalendar.floor(midnight, LocalCalendar.day) / LocalCalendar.day))
        }
        return bytes.withUnsafeBytes { Timestamp.parse($0) }
    }

    static func describe(_ value: JSONValue) -> String {
        if let string = value.string { return "'\(string)'" }
        return "of the wrong type"
    }
}
