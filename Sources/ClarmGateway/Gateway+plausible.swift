import ClarmJSON
import ClarmQuery
import ClarmServer
import ClarmSystem

extension Gateway {
    /// `POST /api/v2/query`: Plausible's Stats API v2 onto the query engine, with `/api/query`'s keys, host
    /// rules and budgets; the answer is in Plausible's shape.
    func plausibleQuery(_ request: HTTPRequest, _ response: inout HTTPResponseWriter) {
        guard authorized(request, &response) else { return }
        let plausible: PlausibleQuery
        do throws(QueryError) {
            plausible = try PlausibleQuery.parse(request.body, now: wallClockMilliseconds(), siteTimezone: registeredTimezone)
            try plausible.checkLimits()
        } catch {
            sendError(.badRequest, error.description, request, &response)
            return
        }
        respondLater(request, &response) { engine, _ throws(QueryError) in
            let result = try engine.run(plausible.query)
            var json = JSONWriter(capacity: 4096)
            PlausibleResponse.write(result, plausible, into: &json)
            return (.ok, json.bytes)
        }
    }
}
