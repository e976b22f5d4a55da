import ClarmEvents
import ClarmJSON

/// The answer to a `PlausibleQuery` in Plausible's shape: `{"results": [{"metrics": […], "dimensions": […]}],
/// "meta": {…}, "query": {…}}`, time buckets labelled as Plausible labels them.
public enum PlausibleResponse {
    public static func write(_ result: QueryResult, _ request: PlausibleQuery, into json: inout JSONWriter) {
        let query = request.query
        json.raw(#"{"results":"#)
        json.array(result.rows) { row, json in
            json.raw(#"{"metrics":"#)
            json.array(row.metrics) { value, json in
                switch value {
                case .count(let n): json.integer(n)
                case .decimal(let d): json.number(d)
                case .money: json.raw("null")  // no Plausible metric maps onto revenue
                }
            }
            json.raw(#","dimensions":"#)
            var labels = row.dimensions
            if let time = request.time { labels[time.index] = label(labels[time.index], time.bucket) }
            json.strings(labels)
            json.raw("}")
        }
        json.raw(#","meta":{"#)
        var first = true
        func member(_ name: StaticString, _ json: inout JSONWriter) {
            if !first { json.raw(",") }
            first = false
            json.string(name)
            json.raw(":")
        }
        if request.includeTimeLabels {
            member("time_labels", &json)
            json.strings(request.timeLabels)
        }
        if request.includeTotalRows {
            member("total_rows", &json)
            json.integer(result.totalRows)
        }
        if request.includeImports {
            member("imports_included", &json)
            json.raw("false")
        }
        json.raw(#"},"query":{"site_id":"#)
        json.string(query.site)
        json.raw(#","metrics":"#)
        json.strings(query.metrics.map(\.rawValue))
        json.raw(#","date_range":"#)
        if query.from == Int64.min {
            json.string("all")
        } else {
            json.strings([instant(query.from, query.timezone), instant(query.to - 1000, query.timezone)])
        }
        json.raw(#","filters":"#)
        write(request.filtersJSON, into: &json)
        json.raw(#","dimensions":"#)
        json.strings(request.dimensionNames)
        json.raw(#","order_by":"#)
        json.array(query.orderBy) { order, json in
            let name = switch order.key {
            case .metric(let metric): metric.rawValue
            case .dimension(let dimension): request.dimensionNames[query.dimensions.firstIndex(of: dimension)!]
            }
            json.strings([name, order.descending ? "desc" : "asc"])
        }
        json.raw(#","include":{"time_labels":"#)
        json.raw(request.includeTimeLabels ? "true" : "false")
        json.raw(#","total_rows":"#)
        json.raw(request.includeTotalRows ? "true" : "false")
        json.raw(#","imports":"#)
        json.raw(request.includeImports ? "true" : "false")
        json.raw(#"},"pagination":{"limit":"#)
        json.integer(query.limit)
        json.raw(#","offset":"#)
        json.integer(query.offset)
        json.raw(#"},"timezone":"#)
        json.string(query.timezone.name)
        json.raw("}}")
    }

    /// Plausible's label of a Clarm bucket label: `2026-11-05 09:00:00` for an hour (the wall clock, without
    /// the offset Clarm's label has), `2026-11-01` for a month; days and weeks are the same.
    static func label(_ clarm: String, _ bucket: Query.TimeBucket) -> String {
        switch bucket {
        case .hour: String(clarm.prefix(10)) + " " + String(clarm.dropFirst(11).prefix(8))
        case .month: clarm + "-01"
        case .day, .week: clarm
        }
    }

    /// An instant as Plausible writes range ends: the zone's wall clock with its offset, `+00:00` for zero.
    static func instant(_ t: Int64, _ zone: TimeZoneRules) -> String {
        let offset = Int64(zone.offset(atSecond: LocalCalendar.floor(t, 1000) / 1000)) * 1000
        return String(Timestamp.format(t + offset).prefix(19)) + (offset == 0 ? "+00:00" : LocalCalendar.offsetText(offset))
    }

    /// Writes a parsed JSON value back (numbers as they were written).
    static func write(_ value: JSONValue, into json: inout JSONWriter) {
        switch value {
        case .null: json.raw("null")
        case .bool(let on): json.raw(on ? "true" : "false")
        case .number(let text): Array(text.utf8).withUnsafeBytes { json.raw($0) }
        case .string(let text): json.string(text)
        case .array(let items): json.array(items) { item, json in write(item, into: &json) }
        case .object(let members):
            json.raw("{")
            for (i, member) in members.enumerated() {
                if i > 0 { json.raw(",") }
                json.string(member.key)
                json.raw(":")
                write(member.value, into: &json)
            }
            json.raw("}")
        }
    }
}
