import ClarmEvents
import ClarmHTTP
import ClarmIntegrations
import ClarmJSON
import ClarmMetrics
import ClarmServer

/// `/api/destinations`, `/api/destinations/{id}`, `/api/destinations/{id}/test` and `/replay`: where events are
/// pushed (README, "Integrations"). Behind the API keys like the query API; changes, tests and replays wait for
/// an fsync or a receiver, so they run off the event loop.
extension Gateway {
    enum DestinationRoute {
        case collection
        case destination(String)
        case test(String)
        case replay(String)
    }

    static let maxDestinationBody = 16 * 1024

    static func destinationRoute(_ path: UnsafeRawBufferPointer) -> DestinationRoute? {
        if path.elementsEqual("/api/destinations".utf8) { return .collection }
        let prefix = "/api/destinations/".utf8
        guard path.count > prefix.count, path.prefix(prefix.count).elementsEqual(prefix) else { return nil }
        let rest = URLParts.decode(path.dropFirst(prefix.count), plusIsSpace: false).split(separator: "/", omittingEmptySubsequences: false)
        switch (rest.count, rest.last) {
        case (1, _): return .destination(String(rest[0]))
        case (2, "test"?): return .test(String(rest[0]))
        case (2, "replay"?): return .replay(String(rest[0]))
        default: return nil
        }
    }

    func destinations(_ route: DestinationRoute, _ request: HTTPRequest, _ response: inout HTTPResponseWriter) {
        guard authorized(request, &response) else { return }
        guard let integrations else {
            sendError(.notImplemented, "this gateway delivers to no destinations", request, &response)
            return
        }
        guard request.body.count <= Self.maxDestinationBody else {
            sendError(.contentTooLarge, "a destination is at most \(Self.maxDestinationBody) bytes", request, &response)
            return
        }
        switch (route, request.method) {
        case (.collection, .get), (.collection, .head):
            json.reset()
            json.bytes = integrations.list()
            send(.ok, request, &response)
        case (.collection, .post):
            guard let body = destinationBody(request, &response) else { return }
            respondLater(request, &response) { _, _ in Self.answer(.created) { () throws(IntegrationError) in try integrations.add(body) } }
        case (.destination(let id), .get), (.destination(let id), .head):
            respondLater(request, &response) { _, _ in Self.answer(.ok) { () throws(IntegrationError) in try integrations.show(id) } }
        case (.destination(let id), .put):
            guard let body = destinationBody(request, &response) else { return }
            respondLater(request, &response) { _, _ in Self.answer(.ok) { () throws(IntegrationError) in try integrations.replace(id, body) } }
        case (.destination(let id), .delete):
            respondLater(request, &response) { _, _ in
                Self.answer(.ok) { () throws(IntegrationError) in
                    try integrations.remove(id)
                    var json = JSONWriter()
                    json.raw(#"{"removed":"#)
                    json.string(id)
                    json.raw("}")
                    return json.bytes
                }
            }
        case (.test(let id), .post):
            respondLater(request, &response) { _, _ in Self.answer(.ok) { () throws(IntegrationError) in try integrations.test(id) } }
        case (.replay(let id), .post):
            let needed = #"a replay's body is {"dead_letters": true} or {"from": "<RFC 3339 time>", "to": "<RFC 3339 time>"}"#
            guard !request.body.isEmpty else { return sendError(.badRequest, needed, request, &response) }
            guard let body = destinationBody(request, &response) else { return }
            if body["dead_letters"] == .bool(true) {
                respondLater(request, &response) { _, _ in Self.answer(.ok) { () throws(IntegrationError) in try integrations.replayDeadLetters(id) } }
            } else if body["dead_letters"] == nil, body["from"] != nil || body["to"] != nil {
                // Reading the range costs what a query does: it stops at the query timeout.
                let timeout = runtime.options.queryTimeoutMilliseconds
                respondLater(request, &response) { _, _ in
                    Self.answer(.ok) { () throws(IntegrationError) in try integrations.replayRange(id, body, timeoutMilliseconds: timeout) }
                }
            } else {
                sendError(.badRequest, needed, request, &response)
            }
        case (.collection, _):
            methodNotAllowed(request, &response, allow: "GET, HEAD, POST")
        case (.destination, _):
            methodNotAllowed(request, &response, allow: "GET, HEAD, PUT, DELETE")
        case (.test, _), (.replay, _):
            methodNotAllowed(request, &response, allow: "POST")
        }
    }

    private func destinationBody(_ request: HTTPRequest, _ response: inout HTTPResponseWriter) -> JSONValue? {
        do throws(JSONError) {
            return try JSONValue.parse(request.body)
        } catch {
            sendError(.badRequest, "invalid JSON: \(error)", request, &response)
            return nil
        }
    }

    private static func answer(_ success: HTTPStatus, _ work: () throws(IntegrationError) -> [UInt8]) -> (HTTPStatus, [UInt8]) {
        do throws(IntegrationError) {
            return (success, try work())
        } catch {
            let status: HTTPStatus = switch error.status {
            case 404: .notFound
            case 409: .conflict
            case 500: .internalServerError
            default: .badRequest
            }
            return errorBody(status, error.description)
        }
    }
}

extension Gateway {
    /// Serves `/api/destinations` from `integrations` (shared by every loop's gateway).
    public func withIntegrations(_ integrations: Integrations) -> Gateway {
        self.integrations = integrations
        return self
    }
}

extension Gateway {
    /// Per destination: events delivered and dead-lettered, failed requests, backlog and losses.
    func writeDestinationMetrics(_ integrations: Integrations, _ text: inout PrometheusText) {
        let rows = integrations.metricRows
        func per(_ value: (Integrations.MetricRow) -> Int) -> [(labels: [(String, String)], value: Int)] {
            rows.map { ([("destination", $0.id), ("type", $0.type)], value($0)) }
        }
        text.write("clarm_destination_delivered_events_total", help: "Events a destination's receiver accepted.", type: "counter",
                   rows: per(\.delivered))
        text.write("clarm_destination_failed_requests_total", help: "Requests to a destination that failed (to be retried).",
                   type: "counter", rows: per(\.failed))
        text.write("clarm_destination_dead_lettered_events_total", help: "Events given up on after the last retry.",
                   type: "counter", rows: per(\.deadLettered))
        text.write("clarm_destination_dropped_dead_letters_total", help: "Dead letters dropped past the per-destination bound.",
                   type: "counter", rows: per(\.droppedDeadLetters))
        text.write("clarm_destination_backlog_bytes", help: "Bytes of log not yet delivered to a destination.", type: "gauge",
                   rows: per(\.backlogBytes))
        text.write("clarm_destination_lost_events_total", help: "Events deleted past --feed-retention-bytes before delivery.",
                   type: "counter", rows: per(\.lost))
    }
}
