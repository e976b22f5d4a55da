import ClarmEvents
import ClarmHTTP
import ClarmJSON
import ClarmQuery
import ClarmServer
import ClarmStorage

/// `/api/sites` and `/api/sites/{site}`: register, list, show, change and remove sites. Behind the API
/// keys when keys are configured. Changes are saved with an fsync, so they run off the event loop.
extension Gateway {
    enum SiteRoute {
        case collection
        case site(String)
    }

    static let maxSiteBody = 64 * 1024

    static func siteRoute(_ path: UnsafeRawBufferPointer) -> SiteRoute? {
        if path.elementsEqual("/api/sites".utf8) { return .collection }
        let prefix = "/api/sites/".utf8
        guard path.count > prefix.count, path.prefix(prefix.count).elementsEqual(prefix) else { return nil }
        return .site(URLParts.decode(path.dropFirst(prefix.count)).lowercased())
    }

    func sites(_ route: SiteRoute, _ request: HTTPRequest, _ response: inout HTTPResponseWriter) {
        guard authorized(request, &response) else { return }
        guard request.body.count <= Self.maxSiteBody else {
            sendError(.contentTooLarge, "a site registration is at most \(Self.maxSiteBody) bytes", request, &response)
            return
        }
        let registry = traffic.sites
        switch (route, request.method) {
        case (.collection, .get), (.collection, .head):
            let (snapshot, _) = registry.snapshot()
            let activity = traffic.activity
            let store = self.store
            respondLater(request, &response) { _, _ in
                let registrations = snapshot.entries.map(\.registration)
                do throws(SegmentCorruption) {
                    let totals = try activity.totals(of: registrations.map(\.site), in: store.snapshot())
                    var json = JSONWriter(capacity: 256 * (registrations.count + 1))
                    json.raw(#"{"sites":"#)
                    json.array(registrations) { registration, json in
                        Self.write(registration, totals[registration.site] ?? SiteActivity.Totals(), &json)
                    }
                    json.raw("}")
                    return (.ok, json.bytes)
                } catch {
                    return Self.errorBody(.internalServerError, "damaged data: \(error)")
                }
            }
        case (.collection, .post):
            guard let registration = parseRegistration(request, pathSite: nil, &response) else { return }
            respondLater(request, &response) { _, _ in
                Self.answer(registration, success: .created) { () throws(SiteRegistryError) in try registry.add(registration) }
            }
        case (.site(let site), .get), (.site(let site), .head):
            guard let entry = registry.snapshot().snapshot.entry(site) else {
                sendError(.notFound, SiteRegistryError.notFound(site).description, request, &response)
                return
            }
            json.reset()
            entry.registration.write(into: &json)
            json.raw("}")
            send(.ok, request, &response)
        case (.site(let site), .put):
            guard let registration = parseRegistration(request, pathSite: site, &response) else { return }
            respondLater(request, &response) { _, _ in
                Self.answer(registration, success: .ok) { () throws(SiteRegistryError) in try registry.replace(registration) }
            }
        case (.site(let site), .delete):
            respondLater(request, &response) { _, _ in
                do throws(SiteRegistryError) {
                    try registry.remove(site)
                } catch {
                    return Self.errorBody(error)
                }
                var json = JSONWriter()
                json.raw(#"{"removed":"#)
                json.string(site)
                json.raw("}")
                return (.ok, json.bytes)
            }
        case (.collection, _):
            methodNotAllowed(request, &response, allow: "GET, HEAD, POST")
        case (.site, _):
            methodNotAllowed(request, &response, allow: "GET, HEAD, PUT, DELETE")
        }
    }

    /// The registration in the body, validated (time zones included: one small file read) while the body is
    /// still there; a bad one is answered 400 at once.
    private func parseRegistration(_ request: HTTPRequest, pathSite: String?, _ response: inout HTTPResponseWriter) -> SiteRegistration? {
        do throws(SiteRegistrationError) {
            let value: JSONValue
            do throws(JSONError) {
                value = try JSONValue.parse(request.body)
            } catch {
                throw SiteRegistrationError("invalid JSON: \(error)")
            }
            return try SiteRegistration.parse(value, pathSite: pathSite, zones: traffic.sites.zones)
        } catch {
            sendError(.badRequest, error.description, request, &response)
            return nil
        }
    }

    /// Runs a change (on a worker thread: it waits for an fsync) and answers with the registration or the error.
    private static func answer(_ registration: SiteRegistration, success: HTTPStatus,
                               _ change: () throws(SiteRegistryError) -> Void) -> (HTTPStatus, [UInt8]) {
        do throws(SiteRegistryError) {
            try change()
        } catch {
            return errorBody(error)
        }
        var json = JSONWriter()
        registration.write(into: &json)
        json.raw("}")
        return (success, json.bytes)
    }

    static func errorBody(_ error: SiteRegistryError) -> (HTTPStatus, [UInt8]) {
        let status: HTTPStatus = switch error {
        case .exists, .full: .conflict
        case .notFound: .notFound
        case .notSaved, .damaged: .internalServerError
        }
        return errorBody(status, error.description)
    }

    static func errorBody(_ status: HTTPStatus, _ message: String) -> (HTTPStatus, [UInt8]) {
        var json = JSONWriter()
        json.raw(#"{"error":"#)
        json.string(message)
        json.raw("}")
        return (status, json.bytes)
    }

    /// A registration with its `event_count` and `last_event_at` (null with no events).
    static func write(_ registration: SiteRegistration, _ totals: SiteActivity.Totals, _ json: inout JSONWriter) {
        registration.write(into: &json)
        json.raw(#","event_count":"#)
        json.integer(totals.events)
        json.raw(#","last_event_at":"#)
        if let last = totals.lastEventAt { json.string(Timestamp.format(last)) } else { json.raw("null") }
        json.raw("}")
    }
}
