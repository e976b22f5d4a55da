import ClarmEvents
import ClarmHTTP
import ClarmJSON
import ClarmQuery
import ClarmServer
import ClarmSystem
import Dispatch

extension Gateway {
    /// `POST /api/query`: runs on a query thread, never on the event loop; the response is resumed when done.
    func query(_ request: HTTPRequest, _ response: inout HTTPResponseWriter) {
        guard authorized(request, &response) else { return }
        let query: Query
        do throws(QueryError) {
            query = try Query.parse(request.body, now: wallClockMilliseconds(), siteTimezone: registeredTimezone)
        } catch {
            sendError(.badRequest, error.description, request, &response)
            return
        }
        let engine = queryEngine
        respondLater(request, &response) {
            let started = monotonicMilliseconds()
            let outcome = Result { () throws(QueryError) in try engine.run(query) }
            var json = JSONWriter(capacity: 4096)
            switch outcome {
            case .success(let result):
                QueryAnswer.write(result, query: query, tookMilliseconds: monotonicMilliseconds() - started, into: &json)
                return (.ok, json.bytes)
            case .failure(let error):
                json.raw(#"{"error":"#)
                json.string(error.description)
                json.raw("}")
                return (error.field == "storage" ? .internalServerError : .badRequest, json.bytes)
            }
        }
    }

    /// Runs `work` on a query thread and answers with the status and JSON body it returns; the event loop
    /// serves other connections meanwhile.
    func respondLater(_ request: HTTPRequest, _ response: inout HTTPResponseWriter,
                      _ work: @escaping @Sendable () -> (HTTPStatus, [UInt8])) {
        let origin = request.header("origin").map { Array($0) }
        let pending = response.suspend()
        DispatchQueue.global(qos: .userInitiated).async {
            let (status, body) = work()
            pending.resume { response in
                response.start(status)
                Gateway.allowOrigin(origin, &response)
                body.withUnsafeBytes { response.body($0, contentType: "application/json") }
            }
        }
    }

    /// Query routes need `Authorization: Bearer <key>` when keys are configured; a missing or wrong key gets 401.
    func authorized(_ request: HTTPRequest, _ response: inout HTTPResponseWriter) -> Bool {
        guard !apiKeys.isEmpty else { return true }
        if let header = request.header("authorization"), header.count > 7,
           header.prefix(7).elementsEqual("Bearer ".utf8) {
            let presented = header.dropFirst(7)
            // Compare every key in full, so timing does not tell how much of a key matched.
            var match = false
            for key in apiKeys where key.count == presented.count {
                var difference: UInt8 = 0
                for (a, b) in zip(key, presented) { difference |= a ^ b }
                if difference == 0 { match = true }
            }
            if match { return true }
        }
        json.reset()
        json.raw(#"{"error":"a valid API key is required: send Authorization: Bearer <key>"}"#)
        response.start(.unauthorized)
        response.header("WWW-Authenticate", "Bearer")
        allowOrigin(request, &response)
        json.bytes.withUnsafeBytes { response.body($0, contentType: "application/json") }
        return false
    }
}

/// The JSON of a query's answer: results, meta, and the query as normalised.
enum QueryAnswer {
    static func write(_ result: QueryResult, query: Query, tookMilliseconds: Int64, into json: inout JSONWriter) {
        json.raw(#"{"results":"#)
        json.array(result.rows) { row, json in
            json.raw(#"{"dimensions":"#)
            json.strings(row.dimensions)
            json.raw(#","metrics":"#)
            json.array(row.metrics) { value, json in
                switch value {
                case .count(let n): json.integer(n)
                case .decimal(let d): json.number(d)
                case .money(let sums): Gateway.write(sums, &json)
                }
            }
            json.raw("}")
        }
        json.raw(#","meta":{"total_rows":"#)
        json.integer(result.totalRows)
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
        json.raw(#","limit":"#)
        json.integer(query.limit)
        json.raw(#","offset":"#)
        json.integer(query.offset)
        json.raw(#","timezone":"#)
        json.string(query.timezone.name)
        json.raw("}}")
    }
}
