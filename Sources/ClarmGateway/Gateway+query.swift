import ClarmEvents
import ClarmHTTP
import ClarmJSON
import ClarmQuery
import ClarmServer
import ClarmSystem

extension Gateway {
    /// `POST /api/query`: runs on a query thread, never on the event loop; the response is resumed when done.
    func query(_ request: HTTPRequest, _ response: inout HTTPResponseWriter) {
        guard authorized(request, &response) else { return }
        let query: Query
        do throws(QueryError) {
            query = try Query.parse(request.body, now: wallClockMilliseconds(), siteTimezone: registeredTimezone)
            try query.checkLimits()
            _ = try query.comparisonRange()
        } catch {
            sendError(.badRequest, error.description, request, &response)
            return
        }
        let clickhouse = runtime.clickhouseQueries
        respondLater(request, &response) { engine, started throws(QueryError) in
            let result: QueryResult
            if let clickhouse { result = try clickhouse.run(query) } else { result = try engine.run(query) }
            let comparison = try engine.compare(query, result)
            var json = JSONWriter(capacity: 4096)
            QueryAnswer.write(result, query: query, comparison: comparison, tookMilliseconds: monotonicMilliseconds() - started, into: &json)
            return (.ok, json.bytes)
        }
    }
}

/// The JSON of a query's answer: results, meta, and the query as normalised.
enum QueryAnswer {
    static func write(_ result: QueryResult, query: Query, comparison: QueryComparison? = nil, tookMilliseconds: Int64,
                      into json: inout JSONWriter) {
        json.raw(#"{"results":"#)
        json.array(result.rows.enumerated()) { item, json in
            json.raw(#"{"dimensions":"#)
            json.strings(item.element.dimensions)
            json.raw(#","metrics":"#)
            write(item.element.metrics, &json)
            if let earlier = comparison?.rows[item.offset] {
                json.raw(#","comparison":{"dimensions":"#)
                json.strings(earlier.dimensions)
                json.raw(#","metrics":"#)
                write(earlier.metrics, &json)
                json.raw(#","change":"#)
                json.array(earlier.change) { change, json in
                    if let change { json.number(change) } else { json.raw("null") }
                }
                json.raw("}")
            }
            json.raw("}")
        }
        json.raw(#","meta":{"total_rows":"#)
        json.integer(result.totalRows)
        if let comparison {
            json.raw(#","comparison_date_range":"#)
            json.strings([Timestamp.format(comparison.from), Timestamp.format(comparison.to)])
        }
        json.raw(#","took_ms":"#)
        json.integer(Int(tookMilliseconds))
        json.raw(#"},"query":{"site":"#)
        json.string(query.site)
        json.raw(#","date_range":"#)
        if query.from == Int64.min {
            json.string("all")
        } else {
            json.strings([Timestamp.format(query.from), Timestamp.format(query.to)])
        }
        json.raw(#","metrics":"#)
        json.strings(query.metrics.map(\.rawValue))
        json.raw(#","dimensions":"#)
        json.strings(query.dimensions.map(\.name))
        json.raw(#","filters":"#)
        json.array(query.filters) { filter, json in
            json.raw("[")
            json.string(filter.op.rawValue)
            json.raw(",")
            json.string(filter.dimension.name)
            json.raw(",")
            json.strings(filter.values)
            json.raw("]")
        }
        json.raw(#","order_by":"#)
        json.array(query.orderBy) { order, json in
            switch order.key {
            case .metric(let metric): json.strings([metric.rawValue, order.descending ? "desc" : "asc"])
            case .dimension(let dimension): json.strings([dimension.name, order.descending ? "desc" : "asc"])
            }
        }
        if let attribution = query.attribution {
            json.raw(#","attribution":"#)
            json.string(attribution.rawValue)
        }
        if query.attributionScope != .visitor {
            json.raw(#","attribution_scope":"#)
            json.string(query.attributionScope.rawValue)
        }
        json.raw(#","limit":"#)
        json.integer(query.limit)
        json.raw(#","offset":"#)
        json.integer(query.offset)
        json.raw(#","timezone":"#)
        json.string(query.timezone.name)
        if let mode = query.comparison {
            json.raw(#","comparisons":{"mode":"#)
            json.string(mode.rawValue)
            json.raw("}")
        }
        json.raw("}}")
    }

    static func write(_ metrics: [MetricValue], _ json: inout JSONWriter) {
        json.array(metrics) { value, json in
            switch value {
            case .count(let n): json.integer(n)
            case .decimal(let d): json.number(d)
            case .money(let sums): Gateway.write(sums, &json)
            }
        }
    }
}
