import ClarmEvents
import ClarmHTTP
import ClarmJSON
import ClarmQuery
import ClarmServer
import ClarmSystem

extension Gateway {
    /// `POST /api/funnel` (docs/QUERIES.md, "Funnels"): runs on a query thread with the query API's budgets.
    func funnel(_ request: HTTPRequest, _ response: inout HTTPResponseWriter) {
        guard authorized(request, &response) else { return }
        let funnel: Funnel
        do throws(QueryError) {
            funnel = try Funnel.parse(request.body, now: wallClockMilliseconds(), siteTimezone: registeredTimezone)
        } catch {
            sendError(.badRequest, error.description, request, &response)
            return
        }
        respondLater(request, &response) { engine, started throws(QueryError) in
            let result = try engine.funnel(funnel)
            var json = JSONWriter(capacity: 1024)
            Self.write(result, funnel, tookMilliseconds: monotonicMilliseconds() - started, &json)
            return (.ok, json.bytes)
        }
    }

    static func write(_ result: FunnelResult, _ funnel: Funnel, tookMilliseconds: Int64, _ json: inout JSONWriter) {
        json.raw(#"{"steps":"#)
        json.array(result.steps) { step, json in
            json.raw(#"{"name":"#)
            json.string(step.name)
            json.raw(#","visitors":"#)
            json.integer(step.visitors)
            json.raw(#","conversion_rate":"#)
            json.number(step.conversionRate)
            json.raw(#","conversion_rate_from_previous":"#)
            json.number(step.conversionRateFromPrevious)
            json.raw(#","dropoff":"#)
            json.integer(step.dropoff)
            json.raw(#","median_seconds_from_previous":"#)
            if let median = step.medianSecondsFromPrevious { json.number(median) } else { json.raw("null") }
            json.raw("}")
        }
        json.raw(#","meta":{"site":"#)
        json.string(funnel.site)
        json.raw(#","date_range":"#)
        if funnel.from == Int64.min { json.string("all") } else { json.strings([Timestamp.format(funnel.from), Timestamp.format(funnel.to)]) }
        json.raw(#","timezone":"#)
        json.string(funnel.timezone.name)
        json.raw(#","window_seconds":"#)
        json.integer(Int(funnel.window / 1000))
        json.raw(#","events":"#)
        json.integer(result.events)
        json.raw(#","step_checks":"#)
        json.integer(result.stepChecks)
        json.raw(#","took_ms":"#)
        json.integer(Int(tookMilliseconds))
        json.raw("}}")
    }
}
