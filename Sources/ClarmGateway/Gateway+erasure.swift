import ClarmIntegrations
import ClarmJSON
import ClarmServer
import ClarmStorage

/// `DELETE /api/visitors/{id}?site=S`: erases a visitor's events on a site (GDPR Art. 17). Answered once the
/// tombstone is durable (an fsync, so off the event loop); from then on no answer counts the visitor, and the
/// store purges its events from its files (README, "Erasure"). When the gateway ships to ClickHouse, the
/// erasure is recorded for it too before the answer (docs/SCALE.md, "Erasure").
extension Gateway {
    func erase(_ route: ListRoute, _ request: HTTPRequest, _ response: inout HTTPResponseWriter) {
        guard case .visitor(let visitor) = route else {
            methodNotAllowed(request, &response, allow: "GET, HEAD, OPTIONS")
            return
        }
        guard authorized(request, &response) else { return }
        guard let site = Self.parameters(request.query)["site"]?.lowercased(), !site.isEmpty else {
            sendError(.badRequest, "site: required, as ?site=shop.example.com", request, &response)
            return
        }
        let store = self.store
        let integrations = self.integrations
        let forward = runtime.forwardedErasure
        respondLater(request, &response) { _, _ in
            do throws(StoreError) {
                try store.erase(site: site, visitor: visitor)
            } catch {
                return Self.errorBody(.serviceUnavailable, error.description)
            }
            // Recorded for ClickHouse only after the tombstone: from then on shipping leaves the visitor out.
            do {
                try forward?(site, visitor)
            } catch {
                return Self.errorBody(.serviceUnavailable, "\(error)")
            }
            // Destinations' dead letters and queued replays hold copies of the visitor's events.
            do throws(IntegrationError) {
                try integrations?.erase(site: site, visitor: visitor)
            } catch {
                return Self.errorBody(.serviceUnavailable, error.description)
            }
            var json = JSONWriter(capacity: 256)
            json.raw(#"{"erased":{"site":"#)
            json.string(site)
            json.raw(#","visitor_id":"#)
            json.string(visitor)
            json.raw(#"},"pending_physical":"#)
            if store.erasurePending(site: site, visitor: visitor) { json.raw("true}") } else { json.raw("false}") }
            return (.ok, json.bytes)
        }
    }
}
