import ClarmJSON

/// A funnel (`POST /api/funnel`), checked and normalised. See docs/QUERIES.md, "Funnels", for the definition.
public struct Funnel: Sendable {
    public struct Step: Sendable {
        public var name: String
        /// All of them hold for the one event that reaches the step.
        public var filters: [Query.Filter]
    }

    public var site: String
    /// `[from, to)` in UTC milliseconds.
    public var from: Int64
    public var to: Int64
    public var timezone: TimeZoneRules
    /// How long after the entry event the later steps may happen, in milliseconds.
    public var window: Int64
    /// Filters every event must pass to count at all.
    public var filters: [Query.Filter]
    public var steps: [Step]

    public static let stepCounts = 2...8
    public static let defaultWindow: Int64 = 7 * 86_400_000
    public static let maxWindow: Int64 = 90 * 86_400_000
    public static let maxNameBytes = 200

    /// Parses a request body, as `Query.parse` does a query's (`now` anchors relative ranges).
    public static func parse(_ body: UnsafeRawBufferPointer, now: Int64, zones: TimeZoneDatabase = .system,
                             siteTimezone: (String) -> String? = { _ in nil }) throws(QueryError) -> Funnel {
        let json: JSONValue
        do throws(JSONError) {
            json = try JSONValue.parse(body)
        } catch {
            throw QueryError(field: "body", problem: error.description)
        }
        guard case .object(let members) = json else { throw QueryError(field: "body", problem: "must be a JSON object") }
        let known: Set<String> = ["site", "date_range", "timezone", "window", "filters", "steps"]
        if let unknown = members.first(where: { !known.contains($0.key) }) {
            throw QueryError(field: unknown.key, problem: "unknown field")
        }
        guard let site = json["site"]?.string, !site.isEmpty else {
            throw QueryError(field: "site", problem: "required: the site's host, such as shop.example.com")
        }
        let timezone = try Query.zone(json["timezone"], site: site.lowercased(), zones: zones, siteTimezone: siteTimezone)
        let (from, to) = try Query.parseRange(json["date_range"] ?? .string("30d"), now: now, zone: timezone)
        let window = try parseWindow(json["window"])
        let filters = try eventFilters(json["filters"], field: "filters")
        guard let stepValues = json["steps"]?.array, stepCounts.contains(stepValues.count) else {
            throw QueryError(field: "steps", problem: "required: an array of \(stepCounts.lowerBound) to \(stepCounts.upperBound) steps")
        }
        var steps: [Step] = []
        for (i, value) in stepValues.enumerated() {
            let field = "steps[\(i)]"
            guard case .object(let stepMembers) = value else { throw QueryError(field: field, problem: "must be an object with filters") }
            if let unknown = stepMembers.first(where: { $0.key != "name" && $0.key != "filters" }) {
                throw QueryError(field: "\(field).\(unknown.key)", problem: "unknown field")
            }
            var name = "Step \(i + 1)"
            if let given = value["name"], given != .null {
                guard let text = given.string, !text.isEmpty, text.utf8.count <= maxNameBytes else {
                    throw QueryError(field: "\(field).name", problem: "must be a non-empty string of at most \(maxNameBytes) bytes")
                }
                name = text
            }
            let stepFilters = try eventFilters(value["filters"], field: "\(field).filters")
            guard !stepFilters.isEmpty else {
                throw QueryError(field: "\(field).filters", problem: "required: a non-empty array of filters on event dimensions")
            }
            steps.append(Step(name: name, filters: stepFilters))
        }
        // Each list within the query API's caps, and all of them together too.
        try Query.checkLimits(steps.flatMap(\.filters) + filters, field: "steps")
        return Funnel(site: site.lowercased(), from: from, to: to, timezone: timezone, window: window, filters: filters, steps: steps)
    }

    /// `"<n>m"`, `"<n>h"` or `"<n>d"`, from one minute to 90 days.
    static func parseWindow(_ value: JSONValue?) throws(QueryError) -> Int64 {
        guard let value, value != .null else { return defaultWindow }
        let problem = "must be minutes, hours or days such as \"30m\", \"1h\", \"7d\", at most \"90d\""
        guard let text = value.string, let unit = text.last, let count = Int64(text.dropLast()), count > 0, count <= 90 * 24 * 60,
              let scale: Int64 = ["m": 60_000, "h": 3_600_000, "d": 86_400_000][unit], text.first != "+"
        else { throw QueryError(field: "window", problem: problem) }
        guard count * scale <= maxWindow else { throw QueryError(field: "window", problem: problem) }
        return count * scale
    }

    /// A list of filters within the query API's caps, on event dimensions only (a step is one event).
    static func eventFilters(_ value: JSONValue?, field: String) throws(QueryError) -> [Query.Filter] {
        let filters = try Query.parseFilters(value, field: field)
        try Query.checkLimits(filters, field: field)
        for (i, filter) in filters.enumerated() {
            switch filter.dimension {
            case .eventName, .eventPage, .eventHostname, .eventProperty: continue
            default:
                throw QueryError(field: "\(field)[\(i)]", problem: "funnels filter on event:name, event:page, event:hostname or event:props:* only")
            }
        }
        return filters
    }
}
