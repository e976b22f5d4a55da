import ClarmEvents
import ClarmHTTP
import ClarmJSON
import ClarmQuery
import ClarmServer
import ClarmStorage

/// Clarm's HTTP routes, one instance per event loop (it keeps reusable buffers).
///
/// - `POST /api/track`: events in (`Gateway+track.swift`).
/// - `POST /api/query`: aggregates out (`Gateway+query.swift`), behind API keys when configured.
/// - `GET /api/visitors`, `/api/visitors/{id}`, `/api/conversions` (`Gateway+visitors.swift`), likewise.
/// - `GET /clarm.js`: the loader; `GET /`: the dashboard (`Gateway+assets.swift`, files in `Assets/`).
/// - `GET /healthz`: liveness and storage problems (`Gateway+health.swift`).
public final class Gateway: HTTPHandler {
    let store: Store
    let queryEngine: QueryEngine
    /// Keys accepted for the query routes; none means the query routes are open.
    let apiKeys: [[UInt8]]
    var decoder = TrackDecoder()
    var batch = TrackBatch()
    var json = JSONWriter(capacity: 1024)
    /// Records of the current request, split by shard; reused.
    var shardRecords: [[UInt8]] = []
    var shardCounts: [Int] = []

    public init(store: Store, apiKeys: [String] = []) {
        self.store = store
        self.queryEngine = QueryEngine(store: store)
        self.apiKeys = apiKeys.map { Array($0.utf8) }
    }

    public func handle(_ request: HTTPRequest, _ response: inout HTTPResponseWriter) {
        if request.pathIs("/api/track") {
            switch request.method {
            case .post: track(request, &response)
            case .options: preflight(request, &response, methods: "POST, OPTIONS")
            default: methodNotAllowed(request, &response, allow: "POST, OPTIONS")
            }
        } else if request.pathIs("/api/query") {
            switch request.method {
            case .post: query(request, &response)
            case .options: preflight(request, &response, methods: "POST, OPTIONS")
            default: methodNotAllowed(request, &response, allow: "POST, OPTIONS")
            }
        } else if let route = Self.listRoute(request.path) {
            switch request.method {
            case .get, .head: list(route, request, &response)
            case .options: preflight(request, &response, methods: "GET, HEAD, OPTIONS")
            default: methodNotAllowed(request, &response, allow: "GET, HEAD, OPTIONS")
            }
        } else if request.pathIs("/clarm.js") || request.pathIs("/") {
            switch request.method {
            case .get, .head: serve(request.pathIs("/") ? Self.dashboard : Self.loader, request, &response)
            default: methodNotAllowed(request, &response, allow: "GET, HEAD")
            }
        } else if request.pathIs("/healthz") {
            switch request.method {
            case .get, .head:
                health(request, &response)
            default:
                methodNotAllowed(request, &response, allow: "GET, HEAD")
            }
        } else {
            json.reset()
            json.raw(#"{"error":"no route for "#)
            json.escaped(request.path)
            json.raw(#""}"#)
            send(.notFound, request, &response)
        }
    }

    static func listRoute(_ path: UnsafeRawBufferPointer) -> ListRoute? {
        if path.elementsEqual("/api/visitors".utf8) { return .visitors }
        if path.elementsEqual("/api/conversions".utf8) { return .conversions }
        let prefix = "/api/visitors/".utf8
        guard path.count > prefix.count, path.prefix(prefix.count).elementsEqual(prefix) else { return nil }
        return .visitor(URLParts.decode(path.dropFirst(prefix.count)))
    }

    public func respondToError(_ status: HTTPStatus, message: StaticString, _ response: inout HTTPResponseWriter) {
        json.reset()
        json.raw(#"{"error":"#)
        json.string(message)
        json.raw("}")
        response.start(status)
        if status == .serviceUnavailable { response.header("Retry-After", 1) }
        json.bytes.withUnsafeBytes { response.body($0, contentType: "application/json") }
    }

    /// Sends `json` as the body of a `status` response, with the CORS header a browser needs to read it.
    func send(_ status: HTTPStatus, _ request: HTTPRequest, _ response: inout HTTPResponseWriter,
              retryAfter: Int? = nil) {
        response.start(status)
        allowOrigin(request, &response)
        if let retryAfter { response.header("Retry-After", retryAfter) }
        json.bytes.withUnsafeBytes { response.body($0, contentType: "application/json") }
    }

    func sendError(_ status: HTTPStatus, _ message: String, _ request: HTTPRequest,
                   _ response: inout HTTPResponseWriter, retryAfter: Int? = nil) {
        json.reset()
        json.raw(#"{"error":"#)
        json.string(message)
        json.raw("}")
        send(status, request, &response, retryAfter: retryAfter)
    }

    private func methodNotAllowed(_ request: HTTPRequest, _ response: inout HTTPResponseWriter, allow: StaticString) {
        json.reset()
        json.raw(#"{"error":"method not allowed"}"#)
        response.start(.methodNotAllowed)
        response.header("Allow", allow)
        allowOrigin(request, &response)
        json.bytes.withUnsafeBytes { response.body($0, contentType: "application/json") }
    }
}
