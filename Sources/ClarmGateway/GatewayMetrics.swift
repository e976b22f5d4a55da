import ClarmEvents
import ClarmHTTP
import ClarmMetrics

/// The gateway's metrics (`GET /metrics`): recorded on atomics as requests go, written out on demand.
public final class GatewayMetrics: Sendable {
    /// Routes as `/metrics` labels them; a response's `HTTPResponseWriter.label`.
    enum Route: UInt8, CaseIterable {
        case other, track, query, visitors, visitor, conversions, loader, dashboard, healthz, metrics, sites, cluster

        init(path: UnsafeRawBufferPointer) {
            func equals(_ literal: StaticString) -> Bool { literal.withUTF8Buffer { $0.elementsEqual(path) } }
            if equals("/api/track") { self = .track }
            else if equals("/api/query") || equals("/api/v2/query") || equals("/api/funnel") { self = .query }
            else if equals("/api/visitors") { self = .visitors }
            else if equals("/api/conversions") { self = .conversions }
            else if path.starts(with: "/api/visitors/".utf8) { self = .visitor }
            else if equals("/clarm.js") { self = .loader }
            else if equals("/") { self = .dashboard }
            else if equals("/healthz") { self = .healthz }
            else if equals("/metrics") { self = .metrics }
            else if equals("/api/sites") || path.starts(with: "/api/sites/".utf8) { self = .sites }
            else if equals("/api/cluster") { self = .cluster }
            else { self = .other }
        }

        var name: String { "\(self)" }
    }

    /// Status codes counted one by one; any other is counted as `other`.
    static let statusCodes = [100, 200, 201, 202, 204, 304, 400, 401, 404, 405, 408, 409, 413, 414, 415, 417, 421, 422,
                              429, 431, 500, 501, 503, 504, 505]
    private static let statusIndex: [UInt8] = {
        var index = [UInt8](repeating: UInt8(statusCodes.count), count: 600)
        for (i, code) in statusCodes.enumerated() { index[code] = UInt8(i) }
        return index
    }()

    /// Why events were rejected, by class (the exact messages go to the client).
    enum RejectionClass: Int, CaseIterable {
        case notAnObject, missingField, wrongType, emptyField, tooLong, badTimestamp, timestampOutOfWindow, noSite

        init(_ reason: EventRejection) {
            switch reason {
            case .notAnObject: self = .notAnObject
            case .missing: self = .missingField
            case .notAString, .notAnObjectField: self = .wrongType
            case .empty: self = .emptyField
            case .tooLong: self = .tooLong
            case .badTimestamp: self = .badTimestamp
            case .timestampTooOld, .timestampInFuture: self = .timestampOutOfWindow
            case .noSite: self = .noSite
            }
        }

        var name: String {
            switch self {
            case .notAnObject: "not_an_object"
            case .missingField: "missing_field"
            case .wrongType: "wrong_type"
            case .emptyField: "empty_field"
            case .tooLong: "too_long"
            case .badTimestamp: "bad_timestamp"
            case .timestampOutOfWindow: "timestamp_out_of_window"
            case .noSite: "no_site"
            }
        }
    }

    /// Why queries stopped or were refused.
    enum QueryStop: Int, CaseIterable {
        case queueFull, timeout, cancelled, tooManyRows

        var name: String {
            switch self {
            case .queueFull: "queue_full"
            case .timeout: "timeout"
            case .cancelled: "cancelled"
            case .tooManyRows: "too_many_rows"
            }
        }
    }

    /// Routes × (status codes + other).
    private let requests = AtomicCells(count: Route.allCases.count * (statusCodes.count + 1))
    let accepted = Counter("clarm_events_accepted_total", help: "Events stored (acknowledged with 202).")
    let rejected = Counter("clarm_events_rejected_total", help: "Events rejected by a field rule, by class of reason.",
                           label: "reason", values: RejectionClass.allCases.map(\.name))
    let duplicates = Counter("clarm_events_duplicates_total", help: "Events dropped as repeats of a stored event_id.")
    let bots = Counter("clarm_events_bots_total", help: "Events dropped because their user agent is a crawler's.")
    let queryDuration = Histogram("clarm_query_duration_seconds", help: "Time from a query's arrival to its answer.",
                                  bounds: Histogram.latencyBounds)
    let queriesStopped = Counter("clarm_queries_stopped_total", help: "Queries refused or stopped before their answer, by reason.",
                                 label: "reason", values: QueryStop.allCases.map(\.name))
    /// Recorded by the store (WAL fsyncs, group commits, seals, compactions, the deduplication window).
    public let storage: StorageMetrics

    init(storage: StorageMetrics) {
        self.storage = storage
    }

    func countResponse(_ status: HTTPStatus, route label: UInt8) {
        let route = Int(min(label, UInt8(Route.allCases.count - 1)))
        let code = status.code >= 0 && status.code < 600 ? Int(Self.statusIndex[status.code]) : Self.statusCodes.count
        requests.add(route * (Self.statusCodes.count + 1) + code)
    }

    func countRejections(_ rejections: [(index: Int, reason: EventRejection)]) {
        for rejection in rejections { rejected.add(at: RejectionClass(rejection.reason).rawValue) }
    }

    /// Requests answered so far, by route and status code (nonzero ones).
    var requestRows: [(labels: [(String, String)], value: Int)] {
        var rows: [(labels: [(String, String)], value: Int)] = []
        for route in Route.allCases {
            for code in 0...Self.statusCodes.count {
                let value = requests.load(Int(route.rawValue) * (Self.statusCodes.count + 1) + code)
                guard value > 0 else { continue }
                let status = code < Self.statusCodes.count ? String(Self.statusCodes[code]) : "other"
                rows.append(([("route", route.name), ("code", status)], value))
            }
        }
        return rows
    }
}
