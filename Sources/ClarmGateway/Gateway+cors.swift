import ClarmHTTP
import ClarmServer

/// What a response tells browsers about reading it from another origin (Fetch standard, CORS protocol).
///
/// Sites post events from their own origins, so `/api/track` lets any origin read its answers and `/clarm.js` is
/// readable by all. Everything else holds or leads to the data: only a `--dashboard-origin` may read it.
enum CrossOrigin: Sendable {
    /// No CORS header: browsers keep the response from other origins.
    case none
    /// Not readable by this request's origin, but readable by another one: caches must key on Origin.
    case varies
    /// Readable by this origin (echoed, with `Vary: Origin`).
    case origin([UInt8])
    /// Readable by any origin.
    case any

    func write(_ response: inout HTTPResponseWriter) {
        switch self {
        case .none:
            break
        case .varies:
            response.header("Vary", "Origin")
        case .origin(let origin):
            origin.withUnsafeBytes { response.header("Access-Control-Allow-Origin", $0) }
            response.header("Vary", "Origin")
        case .any:
            response.header("Access-Control-Allow-Origin", "*")
        }
    }

    var allowsReading: Bool {
        switch self {
        case .none, .varies: false
        case .origin, .any: true
        }
    }
}

extension Gateway {
    /// `/api/track`: the requesting origin, whichever it is.
    static func trackCrossOrigin(_ request: HTTPRequest) -> CrossOrigin {
        request.header("origin").map { .origin(Array($0)) } ?? .any
    }

    /// Any other route: only a configured dashboard origin.
    func privateCrossOrigin(_ request: HTTPRequest) -> CrossOrigin {
        if access.dashboardOrigins.isEmpty { return .none }
        guard let origin = request.header("origin"), access.allowsDashboardOrigin(origin) else { return .varies }
        return .origin(Array(origin))
    }

    /// Answers an `OPTIONS` preflight with 204; the methods and headers the route accepts go only to an origin
    /// allowed to read it, so the browser refuses the others.
    func preflight(_ request: HTTPRequest, _ response: inout HTTPResponseWriter, methods: StaticString) {
        response.start(.noContent)
        crossOrigin.write(&response)
        if crossOrigin.allowsReading {
            response.header("Access-Control-Allow-Methods", methods)
            if let requested = request.header("access-control-request-headers") {
                response.header("Access-Control-Allow-Headers", requested)
            } else {
                response.header("Access-Control-Allow-Headers", "Content-Type, Authorization")
            }
            response.header("Access-Control-Max-Age", 86400)
        }
        response.noBody()
    }
}
