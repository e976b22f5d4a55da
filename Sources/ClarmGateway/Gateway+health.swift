import ClarmJSON
import ClarmServer

/// `GET /healthz`: `{"status":"ok"}`, or `{"status":"degraded","problems":[…]}` while storage reports
/// problems (a seal or compaction failing, the memory limit reached); 503 + `Retry-After` only while
/// `/api/track` cannot store events.
extension Gateway {
    func health(_ request: HTTPRequest, _ response: inout HTTPResponseWriter) {
        let health = store.health()
        json.reset()
        if health.problems.isEmpty {
            json.raw(#"{"status":"ok"}"#)
        } else {
            json.raw(#"{"status":"degraded","problems":"#)
            json.strings(health.problems)
            json.raw("}")
        }
        send(health.ingestBlocked ? .serviceUnavailable : .ok, request, &response, retryAfter: health.ingestBlocked ? 5 : nil)
    }
}
