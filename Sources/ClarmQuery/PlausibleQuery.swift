import ClarmEvents
import ClarmJSON

/// A request of Plausible's Stats API v2 (`POST /api/v2/query`), checked and translated onto a `Query`; the
/// answer keeps Plausible's shape (`PlausibleResponse.swift`). What maps and what differs: `docs/QUERIES.md`,
/// "Plausible Stats API v2". Errors read as Plausible's do: `#/metrics/0: Invalid metric "visitorz"`.
public struct PlausibleQuery: Sendable {
    /// The translated query: Clarm's own dimensions, filters, order and page.
    public var query: Query
    /// The dimensions as asked (`time` stays `time`), for the answer's `query`.
    public var dimensionNames: [String]
    /// Index and bucket of the query's time dimension, if it has one.
    public var time: (index: Int, bucket: Query.TimeBucket)?
    public var includeTimeLabels = false
    public var includeTotalRows = false
    public var includeImports = false
    /// The filters as asked (checked), echoed in the answer's `query`.
    public var filtersJSON: JSONValue = .array([])
    /// `include.time_labels`: the range's buckets.
    public var timeLabels: [String] = []

    /// The metrics both systems compute (each under Clarm's definition, `docs/QUERIES.md`).
    static let metrics: [String: Query.Metric] = [
        "visitors": .visitors, "visits": .visits, "pageviews": .pageviews, "events": .events,
        "bounce_rate": .bounce_rate, "visit_duration": .visit_duration, "views_per_visit": .views_per_visit,
        "conversion_rate": .conversion_rate,
    ]
    /// Plausible's metrics that Clarm does not compute.
    static let unsupportedMetrics: Set<String> = [
        "percentage", "scroll_depth", "time_on_page", "exit_rate", "group_conversion_rate", "total_revenue",
        "average_revenue",
    ]
    /// Plausible's dimensions that Clarm does not record or derive.
    static let unsupportedDimensions: Set<String> = [
        "event:goal", "visit:exit_page", "visit:exit_page_hostname", "visit:entry_page_hostname",
        "visit:utm_content", "visit:utm_term", "visit:browser_version", "visit:os_version", "time:minute",
    ]

    /// Plausible's location dimensions whose value Clarm stores under another shape: it keeps the country's
    /// code and the region's and city's English names (docs/QUERIES.md, "Location").
    static let locationDimensions: [String: (dimension: Query.Dimension?, problem: String)] = [
        "visit:country": (.visitCountry, ""),
        "visit:region_name": (.visitRegion, ""),
        "visit:city_name": (.visitCity, ""),
        "visit:country_name": (nil, "Clarm stores the country's ISO code: use visit:country"),
        "visit:region": (nil, "Clarm stores the region's name, not its ISO 3166-2 code: use visit:region_name"),
        "visit:city": (nil, "Clarm stores the city's name, not its GeoNames id: use visit:city_name"),
    ]

    public static let maxFilterDepth = 5
    /// `and`, `or`, `not` and filters together.
    public static let maxFilterNodes = 64
    /// Buckets `include.time_labels` may list.
    public static let maxTimeLabels = 10_000

    public static func parse(_ body: UnsafeRawBufferPointer, now: Int64, zones: TimeZoneDatabase = .system,
                             siteTimezone: (String) -> String? = { _ in nil }) throws(QueryError) -> PlausibleQuery {
        let json: JSONValue
        do throws(JSONError) {
            json = try JSONValue.parse(body)
        } catch {
            throw QueryError(field: "#", problem: "Invalid JSON: \(error.description)")
        }
        guard case .object(let members) = json else { throw QueryError(field: "#", problem: "Expected a JSON object") }
        let known: Set<String> = ["site_id", "metrics", "date_range", "dimensions", "filters", "order_by", "include", "pagination", "timezone"]
        if let unknown = members.first(where: { !known.contains($0.key) }) {
            throw QueryError(field: "#", problem: "Schema does not allow additional properties: \(unknown.key.debugDescription)")
        }
        let missing = ["site_id", "metrics", "date_range"].filter { json[$0] == nil }
        if !missing.isEmpty {
            throw QueryError(field: "#", problem: "Required properties \(missing.joined(separator: ", ")) were not present.")
        }
        guard let site = json["site_id"]?.string, !site.isEmpty else {
            throw QueryError(field: "#/site_id", problem: "Expected the site's domain as a string")
        }
        let zone = try Query.zone(json["timezone"], site: site.lowercased(), zones: zones, siteTimezone: siteTimezone)
        let range = try dateRange(json["date_range"]!, now: now, zone: zone)

        guard let metricValues = json["metrics"]?.array, !metricValues.isEmpty else {
            throw QueryError(field: "#/metrics", problem: "Expected a non-empty array of metrics")
        }
        var metrics: [Query.Metric] = []
        for (i, value) in metricValues.enumerated() {
            let name = value.string ?? ""
            if unsupportedMetrics.contains(name) {
                throw QueryError(field: "#/metrics/\(i)", problem: "Unsupported metric \"\(name)\": Clarm does not compute it")
            }
            guard let metric = Self.metrics[name] else {
                throw QueryError(field: "#/metrics/\(i)", problem: "Invalid metric \(quoted(value))")
            }
            if metrics.contains(metric) { throw QueryError(field: "#/metrics/\(i)", problem: "Metrics cannot be queried multiple times") }
            metrics.append(metric)
        }

        var result = PlausibleQuery(
            query: Query(site: site.lowercased(), from: range.from, to: range.to, metrics: metrics, dimensions: [],
                         filters: [], orderBy: [], limit: Query.maxLimit, offset: 0, timezone: zone),
            dimensionNames: [])
        try result.parseDimensions(json["dimensions"])
        try result.parseFilters(json["filters"])
        try result.parseOrder(json["order_by"])
        try result.parseInclude(json["include"])
        try result.parsePagination(json["pagination"])
        if result.includeTimeLabels { result.timeLabels = try result.bucketLabels() }
        return result
    }

    private mutating func parseDimensions(_ value: JSONValue?) throws(QueryError) {
        guard let value, value != .null else { return }
        guard let values = value.array else { throw QueryError(field: "#/dimensions", problem: "Expected an array") }
        for (i, value) in values.enumerated() {
            let field = "#/dimensions/\(i)"
            guard let name = value.string else { throw QueryError(field: field, problem: "Invalid dimension \(Self.quoted(value))") }
            let dimension: Query.Dimension
            if name == "time" {
                dimension = .time(Self.timeBucket(from: query.from, to: query.to))
            } else {
                dimension = try Self.dimension(name, field: field)
            }
            if case .time(let bucket) = dimension {
                if time != nil { throw QueryError(field: field, problem: "Only one time dimension may be queried") }
                time = (query.dimensions.count, bucket)
            }
            if query.dimensions.contains(dimension) { throw QueryError(field: field, problem: "Dimensions cannot be queried multiple times") }
            query.dimensions.append(dimension)
            dimensionNames.append(name)
        }
    }

    /// A dimension Plausible and Clarm share, by Plausible's name.
    static func dimension(_ name: String, field: String) throws(QueryError) -> Query.Dimension {
        if unsupportedDimensions.contains(name) {
            throw QueryError(field: field, problem: "Unsupported dimension \"\(name)\": Clarm does not record it")
        }
        if let location = locationDimensions[name] {
            guard let dimension = location.dimension else {
                throw QueryError(field: field, problem: "Unsupported dimension \"\(name)\": \(location.problem)")
            }
            return dimension
        }
        guard let dimension = Query.Dimension(name) else {
            throw QueryError(field: field, problem: "Invalid dimension \"\(name)\"")
        }
        return dimension
    }

    /// Plausible's `time`: the finest bucket that keeps the range's rows few: hours up to two days, days up to
    /// 40, weeks up to 100, months beyond (and for `all`).
    static func timeBucket(from: Int64, to: Int64) -> Query.TimeBucket {
        guard from != Int64.min, to != Int64.max else { return .month }
        let days = (to - from) / LocalCalendar.day
        if to - from <= 2 * LocalCalendar.day { return .hour }
        if days <= 40 { return .day }
        if days <= 100 { return .week }
        return .month
    }

    private mutating func parseOrder(_ value: JSONValue?) throws(QueryError) {
        guard let value, value != .null else { return }
        guard let values = value.array else { throw QueryError(field: "#/order_by", problem: "Expected an array") }
        for (i, value) in values.enumerated() {
            let field = "#/order_by/\(i)"
            guard let pair = value.array, pair.count == 2, let name = pair[0].string,
                  let direction = pair[1].string, direction == "asc" || direction == "desc"
            else { throw QueryError(field: field, problem: "Invalid value in order_by: expected [metric or dimension, \"asc\" or \"desc\"]") }
            if let metric = Self.metrics[name], query.metrics.contains(metric) {
                query.orderBy.append((.metric(metric), direction == "desc"))
            } else if let index = dimensionNames.firstIndex(of: name) {
                query.orderBy.append((.dimension(query.dimensions[index]), direction == "desc"))
            } else {
                throw QueryError(field: field, problem: "Invalid order_by entry \"\(name)\": it is not a queried metric or dimension")
            }
        }
    }

    private mutating func parseInclude(_ value: JSONValue?) throws(QueryError) {
        guard let value, value != .null else { return }
        guard case .object(let members) = value else { throw QueryError(field: "#/include", problem: "Expected an object") }
        for (key, value) in members {
            let field = "#/include/\(key)"
            guard case .bool(let on) = value else {
                if key == "comparisons" { throw QueryError(field: field, problem: "Unsupported: Clarm does not compare periods here") }
                throw QueryError(field: field, problem: key == "time_labels" || key == "total_rows" || key == "imports" ? "Expected a boolean" : "Schema does not allow additional properties")
            }
            switch key {
            case "time_labels": includeTimeLabels = on
            case "total_rows": includeTotalRows = on
            case "imports": includeImports = on
            default: throw QueryError(field: field, problem: "Schema does not allow additional properties")
            }
        }
        if includeTimeLabels {
            guard time != nil else {
                throw QueryError(field: "#/include/time_labels", problem: "Invalid include.time_labels: requires a time dimension")
            }
            guard query.from != Int64.min else {
                throw QueryError(field: "#/include/time_labels", problem: "Invalid include.time_labels: requires a bounded date_range, not \"all\"")
            }
        }
    }

    private mutating func parsePagination(_ value: JSONValue?) throws(QueryError) {
        guard let value, value != .null else { return }
        guard case .object(let members) = value else { throw QueryError(field: "#/pagination", problem: "Expected an object") }
        if let unknown = members.first(where: { $0.key != "limit" && $0.key != "offset" }) {
            throw QueryError(field: "#/pagination/\(unknown.key)", problem: "Schema does not allow additional properties")
        }
        query.limit = try Query.integer(value["limit"], field: "#/pagination/limit", default: Query.maxLimit, range: 1...Query.maxLimit)
        query.offset = try Query.integer(value["offset"], field: "#/pagination/offset", default: 0, range: 0...Int(Int32.max))
    }

    static func quoted(_ value: JSONValue) -> String {
        if let string = value.string { return string.debugDescription }
        return "of the wrong type"
    }
}

extension PlausibleQuery {
    /// `Query.checkLimits`, its errors named as Plausible names fields (`#/filters`: leaves are counted across
    /// the nesting, so no one path is at fault).
    public func checkLimits() throws(QueryError) {
        do throws(QueryError) {
            try query.checkLimits()
        } catch {
            throw QueryError(field: "#/" + error.field.prefix { $0 != "[" }, problem: error.problem)
        }
    }
}
