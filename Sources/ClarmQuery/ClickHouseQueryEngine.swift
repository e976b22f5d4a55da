import ClarmEvents

/// Answers `POST /api/query` with SQL run on ClickHouse (docs/SCALE.md, "Queries"), under the definitions of
/// docs/QUERIES.md, over the table Clarm ships to (`ClickHouseRow` in ClarmClickHouse).
///
/// Visits are formed in SQL as the embedded engine forms them: per visitor, events in time order; one visit
/// per `session_id`; events without one start a new visit after 30 minutes of the visitor's silence
/// (arrays: `arrayDifference` of those events' times, then `arrayCumSum`). A visit's attributes are its first
/// event's, whose per-event values (source, channel, browser…) were computed at shipping by this module's
/// `EventDimensions`. Time buckets use the offset changes Clarm's own zone rules give for the rows' span, so
/// no bucket depends on ClickHouse's time zone data. Counts, sums and distinct counts come from ClickHouse;
/// rates, means, rounding, order and paging are computed here by the code the embedded engine uses.
/// Every read is `FROM … FINAL`, so rows sent twice and not merged yet count once.
public struct ClickHouseQueryEngine: Sendable {
    /// The table to read (`db.events`).
    public let table: String
    /// Runs a statement and returns its answer's text (TabSeparated).
    public let execute: @Sendable (String) throws -> String

    public init(table: String, execute: @escaping @Sendable (String) throws -> String) {
        self.table = table
        self.execute = execute
    }

    public func run(_ query: Query) throws(QueryError) -> QueryResult {
        try Self.checkSupported(query)
        let range = "site = \(Self.literal(query.site)) AND timestamp_ms >= \(query.from) AND timestamp_ms < \(query.to)"
        let span = try rows("SELECT count(), min(timestamp_ms), max(timestamp_ms) FROM \(table) FINAL WHERE \(range) FORMAT TabSeparated")
        var groups: [[String]: Accumulator] = [:]
        if let first = span.first, first.count == 3, let count = Int(first[0]), count > 0, let low = Int64(first[1]), let high = Int64(first[2]) {
            let calendar = LocalCalendar(zone: query.timezone, from: low, to: high)
            let events = eventsSQL(query, range: range, calendar: (zone: query.timezone, from: low, to: high))
            let dimensions = query.dimensions.indices.map { "d\($0)" }
            let keys = dimensions.isEmpty ? "" : dimensions.joined(separator: ", ") + ", "
            let groupBy = dimensions.isEmpty ? "" : " GROUP BY " + dimensions.joined(separator: ", ")
            let conversion = "event IN ('purchase', 'goal_achieved')"
            let metrics: String
            if query.needsVisits {
                let perVisit = """
                    SELECT \(keys)visitor_id, vid, count() AS n, countIf(event = 'page_view') AS pv, \
                    countIf(\(conversion)) AS conv, min(ts) AS first, max(ts) AS last \
                    FROM (\(events)) GROUP BY \(keys)visitor_id, vid
                    """
                metrics = """
                    SELECT \(keys)uniqExact(visitor_id), count(), sum(n), sum(pv), sum(conv), countIf(n = 1 AND pv = 1), \
                    sum(last - first), uniqExactIf(visitor_id, conv > 0) FROM (\(perVisit))\(groupBy) HAVING count() > 0 FORMAT TabSeparated
                    """
            } else {
                // The same columns, straight from the events: no visit is asked for, so none is formed (zeros).
                metrics = """
                    SELECT \(keys)uniqExact(visitor_id), 0, count(), countIf(event = 'page_view'), countIf(\(conversion)), 0, 0, \
                    uniqExactIf(visitor_id, \(conversion)) FROM (\(events))\(groupBy) HAVING count() > 0 FORMAT TabSeparated
                    """
            }
            let width = dimensions.count
            for row in try rows(metrics) {
                guard row.count == width + 8 else { throw QueryError(field: "clickhouse", problem: "unexpected answer: \(row)") }
                let numbers = row[width...].map { Int64($0) ?? 0 }
                var sums = Accumulator()
                sums.visitors = Int(numbers[0])
                sums.visits = Int(numbers[1])
                sums.events = Int(numbers[2])
                sums.pageviews = Int(numbers[3])
                sums.conversions = Int(numbers[4])
                sums.bouncedVisits = Int(numbers[5])
                sums.durationSum = numbers[6]
                sums.convertingVisitors = Int(numbers[7])
                groups[label(Array(row[..<width]), query, calendar)] = sums
            }
            if query.metrics.contains(.total_revenue) {
                let revenue = """
                    SELECT \(keys)currency, sum(revenue) FROM (\(events)) WHERE revenue_counts = 1 \
                    GROUP BY \(keys)currency FORMAT TabSeparated
                    """
                for row in try rows(revenue) where row.count == width + 2 {
                    let key = label(Array(row[..<width]), query, calendar)
                    groups[key, default: Accumulator()].revenue[row[width], default: 0] += Double(row[width + 1]) ?? 0
                }
            }
        }
        if query.dimensions.isEmpty && groups.isEmpty { groups[[]] = Accumulator() }
        var rows = groups.map { key, sums in QueryResultRow(dimensions: key, metrics: query.metrics.map { sums.value($0) }) }
        QueryEngine.sort(&rows, query)
        return QueryResult(rows: Array(rows.dropFirst(query.offset).prefix(query.limit)), totalRows: rows.count)
    }

    /// What this engine does not answer yet: a 400 that says so, rather than a different answer.
    static func checkSupported(_ query: Query) throws(QueryError) {
        // The shipped rows carry no location (docs/SCALE.md schema): these cannot be answered there.
        let located: Set<Query.Dimension> = [.visitCountry, .visitRegion, .visitCity]
        if let i = query.dimensions.firstIndex(where: located.contains) {
            throw QueryError(field: "dimensions[\(i)]", problem: "\(query.dimensions[i].name) is not shipped to ClickHouse: query it with --query-engine embedded")
        }
        if let i = query.filters.firstIndex(where: { located.contains($0.dimension) }) {
            throw QueryError(field: "filters[\(i)]", problem: "\(query.filters[i].dimension.name) is not shipped to ClickHouse: query it with --query-engine embedded")
        }
        if query.attribution != nil {
            throw QueryError(field: "attribution", problem: "not answered by --query-engine clickhouse yet")
        }
        for (i, dimension) in query.dimensions.enumerated() {
            if case .eventProperty = dimension {
                throw QueryError(field: "dimensions[\(i)]", problem: "event:props dimensions are not answered by --query-engine clickhouse yet")
            }
        }
        for (i, filter) in query.filters.enumerated() {
            switch filter.dimension {
            case .eventProperty, .time:
                throw QueryError(field: "filters[\(i)]", problem: "filters on \(filter.dimension.name) are not answered by --query-engine clickhouse yet")
            default: break
            }
            if filter.op == .matches || filter.op == .matches_not || !filter.caseSensitive {
                throw QueryError(field: "filters[\(i)]", problem: "patterns and case-insensitive filters are not answered by --query-engine clickhouse yet")
            }
        }
        if query.filterTree != nil {
            throw QueryError(field: "filters", problem: "or/not filter trees are not answered by --query-engine clickhouse yet")
        }
        if query.comparison != nil {
            throw QueryError(field: "comparisons", problem: "not answered by --query-engine clickhouse yet")
        }
    }

    /// One row per event of the range with its visit (`vid`), its visit's attributes, the dimensions `d0…` and
    /// the filters applied. Without anything that depends on visits the rows come straight from the table,
    /// without `vid`: forming visits sorts every visitor's events into arrays.
    func eventsSQL(_ query: Query, range: String, calendar: (zone: TimeZoneRules, from: Int64, to: Int64)) -> String {
        var columns: [String]
        let rows: String
        var filters = query.filters.map(Self.filterSQL)
        if query.needsVisits {
            columns = [
                "visitor_id", "vid", "e.1 AS ts", "e.4 AS event", "e.5 AS page", "e.6 AS hostname", "e.16 AS revenue",
                "e.17 AS revenue_counts", "e.18 AS currency", "fe.5 AS entry_page", "fe.7 AS source", "fe.8 AS channel",
                "fe.9 AS visit_referrer", "fe.10 AS utm_source", "fe.11 AS utm_medium", "fe.12 AS utm_campaign",
                "fe.13 AS browser", "fe.14 AS os", "fe.15 AS device",
            ]
            rows = "(\(visitsSQL(range: range))) ARRAY JOIN vevs AS e"
        } else {
            columns = ["visitor_id", "timestamp_ms AS ts", "event", "page", "hostname", "revenue", "revenue_counts", "currency"]
            rows = "\(table) FINAL"
            filters.insert(range, at: 0)
        }
        if query.dimensions.contains(where: { if case .time = $0 { true } else { false } }) {
            columns.append("\(Self.offsetSQL(calendar.zone, from: calendar.from, to: calendar.to)) AS off")
        }
        for (i, dimension) in query.dimensions.enumerated() { columns.append("\(Self.valueSQL(dimension)) AS d\(i)") }
        return "SELECT \(columns.joined(separator: ", ")) FROM \(rows)"
            + (filters.isEmpty ? "" : " WHERE " + filters.joined(separator: " AND "))
    }

    /// Per visit of the range: its events (`vevs`) and its first event (`fe`), as tuples of the table's columns.
    func visitsSQL(range: String) -> String {
        // The sorted events come from a subquery of their own: on 18.16, reusing the alias of an aggregate's
        // sorted result in the same SELECT may read the aggregate unsorted. And 18.16 expands aliases in place,
        // so a lambda that reads an alias built with lambdas must not name its parameters as those do (`y`, not
        // `x`, in `vids`): the expanded `anon` would take the outer `x`, and anonymous events merge into one visit.
        let sorted = """
            SELECT visitor_id, \
            arraySort(x -> (x.1, x.2), groupArray((timestamp_ms, event_key, session_id, event, page, hostname, source, channel, \
            visit_referrer, utm_source, utm_medium, utm_campaign, browser, os, device, revenue, revenue_counts, currency))) AS evs \
            FROM \(table) FINAL WHERE \(range) GROUP BY visitor_id
            """
        let perVisitor = """
            SELECT visitor_id, evs, \
            arrayMap(x -> x.1, arrayFilter(x -> x.3 = '', evs)) AS anon, \
            arrayCumSum(arrayMap((d, i) -> toUInt32(i = 1 OR d > \(Visits.gap)), arrayDifference(anon), arrayEnumerate(anon))) AS anon_visit, \
            arrayCumSum(arrayMap(x -> toUInt32(x.3 = ''), evs)) AS anon_index, \
            arrayMap((y, k) -> if(y.3 = '', concat('a', toString(anon_visit[k])), concat('s', y.3)), evs, anon_index) AS vids \
            FROM (\(sorted))
            """
        return """
            SELECT visitor_id, vid, groupArray(ev) AS vevs, argMin(ev, (ev.1, ev.2)) AS fe \
            FROM (\(perVisitor)) ARRAY JOIN evs AS ev, vids AS vid GROUP BY visitor_id, vid
            """
    }

    /// The zone's offset (ms) at `ts`, from the changes within the span, as `LocalCalendar` computes it.
    static func offsetSQL(_ zone: TimeZoneRules, from: Int64, to: Int64) -> String {
        let low = LocalCalendar.clamp(from) / 1000 - 1, high = LocalCalendar.clamp(to) / 1000 + 1
        let found = low < high ? zone.changes(after: low, before: high) : []
        let offsets = [Int64(zone.offset(atSecond: low)) * 1000] + found.map { Int64($0.offset) * 1000 }
        guard !found.isEmpty else { return "toInt64(\(offsets[0]))" }
        let changes = found.map { String($0.at * 1000) }.joined(separator: ", ")
        return "arrayElement([\(offsets.map(String.init).joined(separator: ", "))], arrayCount(c -> c <= ts, [\(changes)]) + 1)"
    }

    /// The SQL of a dimension's value: the text of the answer, or a time bucket's key (`LocalCalendar.bucket`).
    static func valueSQL(_ dimension: Query.Dimension) -> String {
        func floor(_ value: String, _ unit: Int64) -> String { "(\(value) - (((\(value)) % \(unit)) + \(unit)) % \(unit))" }
        let day = LocalCalendar.day
        switch dimension {
        case .time(.hour): return "(\(floor("ts + off", LocalCalendar.hour)) - off)"
        case .time(.day): return floor("ts + off", day)
        case .time(.week): return "(\(floor("ts + off - \(4 * day)", 7 * day)) + \(4 * day))"
        case .time(.month):
            return "toInt64(toUInt16(toStartOfMonth(toDate(toDateTime(intDiv(\(floor("ts + off", day)), 1000), 'UTC'))))) * \(day)"
        case .eventName: return "event"
        case .eventPage: return "page"
        case .eventHostname: return "hostname"
        case .visitEntryPage: return "entry_page"
        case .visitSource: return "source"
        case .visitReferrer: return "visit_referrer"
        case .visitUTMSource: return "utm_source"
        case .visitUTMMedium: return "utm_medium"
        case .visitUTMCampaign: return "utm_campaign"
        case .visitBrowser: return "browser"
        case .visitOS: return "os"
        case .visitDevice: return "device"
        case .visitChannel: return "channel"
        case .eventProperty, .visitCountry, .visitRegion, .visitCity: return "''"  // refused by checkSupported
        }
    }

    static func filterSQL(_ filter: Query.Filter) -> String {
        let value = valueSQL(filter.dimension)
        let list = filter.values.map(literal).joined(separator: ", ")
        switch filter.op {
        case .is: return "\(value) IN (\(list))"
        case .is_not: return "\(value) NOT IN (\(list))"
        case .contains: return "(" + filter.values.map { "position(\(value), \(literal($0))) > 0" }.joined(separator: " OR ") + ")"
        case .contains_not: return "(" + filter.values.map { "position(\(value), \(literal($0))) = 0" }.joined(separator: " AND ") + ")"
        case .matches, .matches_not: return "0"  // refused by checkSupported
        }
    }

    /// A ClickHouse string literal: `'…'` with `\` and `'` escaped; every other byte stands for itself.
    public static func literal(_ text: String) -> String {
        var out = "'"
        for character in text.unicodeScalars {
            switch character {
            case "\\": out += "\\\\"
            case "'": out += "\\'"
            // Control bytes (NUL among them) travel as escapes, never raw inside the statement.
            case _ where character.value < 0x20 || character.value == 0x7F:
                let hex = String(character.value, radix: 16)
                out += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            default: out.unicodeScalars.append(character)
            }
        }
        return out + "'"
    }

    /// A group's dimension texts, time keys labelled as the embedded engine labels them.
    func label(_ values: [String], _ query: Query, _ calendar: LocalCalendar) -> [String] {
        zip(query.dimensions, values).map { dimension, value in
            if case .time(let bucket) = dimension { return calendar.label(Int64(value) ?? 0, bucket) }
            return value
        }
    }

    /// The rows of a TabSeparated answer, fields unescaped.
    func rows(_ sql: String) throws(QueryError) -> [[String]] {
        let text: String
        do {
            text = try execute(sql)
        } catch {
            // ClickHouse's code 241: the query passed its `max_memory_usage` (`--clickhouse-query-memory`).
            let tooLarge = "\(error)".contains("Memory limit (for query) exceeded")
            throw QueryError(field: "clickhouse", problem: tooLarge
                                ? "the query needs more memory on ClickHouse than --clickhouse-query-memory allows; narrow its range or dimensions: \(error)"
                                : "\(error)",
                             kind: tooLarge ? .tooManyRows : .timeout)
        }
        return text.split(separator: "\n", omittingEmptySubsequences: true).map { line in
            line.split(separator: "\t", omittingEmptySubsequences: false).map(Self.unescape)
        }
    }

    static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var out = ""
        var escaped = false
        for character in field {
            if escaped {
                switch character {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                case "0": out.append("\0")
                case "b": out.append("\u{8}")
                case "f": out.append("\u{c}")
                default: out.append(character)
                }
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                out.append(character)
            }
        }
        return out
    }
}
