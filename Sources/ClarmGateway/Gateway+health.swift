import ClarmJSON
import ClarmServer

/// `GET /healthz`: `{"status":"ok"}`, or `{"status":"degraded","problems":[…]}` while storage reports
/// problems (a seal or compaction failing, the memory limit reached); 503 + `Retry-After` only while
/// `/api/track` cannot store events. The problems name files and errors: only this machine's own checks
/// (a loopback peer, no proxy, one of the gateway's names) and API key holders read them; others get the status.
extension Gateway {
    func health(_ request: HTTPRequest, _ response: inout HTTPResponseWriter) {
        let health = store.health()
        json.reset()
        if health.problems.isEmpty {
            json.raw(#"{"status":"ok"}"#)
        } else if !mayReadHealthDetails(request) {
            json.raw(#"{"status":"degraded"}"#)
        } else {
            json.raw(#"{"status":"degraded","problems":"#)
            json.strings(health.problems)
            json.raw("}")
        }
        send(health.ingestBlocked ? .serviceUnavailable : .ok, request, &response, retryAfter: health.ingestBlocked ? 5 : nil)
    }

    private func mayReadHealthDetails(_ request: HTTPRequest) -> Bool {
        if request.peer.isLoopback && request.header("x-forwarded-for") == nil && hostAllowed(request) { return true }
        guard let key = Self.bearerToken(request.header("authorization")) else { return false }
        return access.apiKeys.accepts(key)
    }
}
