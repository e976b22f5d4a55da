import ClarmBots
import ClarmEvents
import ClarmGeoIP
import ClarmHTTP
import ClarmIntegrations
import ClarmJSON
import ClarmQuery
import ClarmServer
import ClarmStorage

/// Clarm's HTTP routes, one instance per event loop (it keeps reusable buffers).
///
/// - `POST /api/track`: events in (`Gateway+track.swift`).
/// - `POST /api/query`: aggregates out (`Gateway+query.swift`), behind API keys when configured.
/// - `POST /api/v2/query`: the same, asked and answered as Plausible's Stats API v2 (`Gateway+plausible.swift`).
/// - `GET /api/visitors`, `/api/visitors/{id}`, `/api/conversions` (`Gateway+visitors.swift`), likewise.
/// - `GET /api/people`, `/api/people/{email}` (`Gateway+people.swift`), likewise.
/// - `GET /clarm.js`: the loader; `GET /`: the dashboard (`Gateway+assets.swift`, files in `Assets/`).
/// - `GET /healthz`: liveness and storage problems (`Gateway+health.swift`).
/// - `/api/sites`, `/api/sites/{site}`: registered sites (`Gateway+sites.swift`), behind API keys when configured.
/// - `GET /metrics`: Prometheus metrics (`Gateway+metrics.swift`), behind API keys when configured.
/// - `/api/destinations…`: webhook, Slack and HubSpot delivery (`Gateway+destinations.swift`), likewise.
/// - `GET /api/cluster`: shipping to ClickHouse (`Gateway+cluster.swift`), behind API keys when configured.
/// - `POST /api/funnel`: step-by-step conversion (`Gateway+funnel.swift`), behind API keys when configured.
/// Every request first passes the per-address rate limit (`Gateway+admission.swift`).
///
/// Routes other than the loader, tracking, liveness and the icon are private (`Gateway+host.swift`): they answer
/// only to the gateway's own names and let only `--dashboard-origin`s read them cross-origin (`Gateway+cors.swift`).
public final class Gateway: HTTPHandler {
    let store: Store
    /// Shared by every loop's gateway: query scheduler, metrics, crawler matcher.
    let runtime: GatewayRuntime
    /// Host names, browser origins and API keys the private routes accept.
    let access: GatewayAccess
    /// What the current request's responses tell browsers about cross-origin reads; set for each request.
    var crossOrigin = CrossOrigin.none
    var decoder = TrackDecoder()
    var batch = TrackBatch()
    var json = JSONWriter(capacity: 1024)
    /// Records of the current request, split by shard; reused.
    var shardBatches = ShardBatches()
    let traffic: TrafficPolicy
    /// This loop's copy of the registered sites and its per-request scratch (`Gateway+siteRules.swift`).
    var siteRules = SiteRules()
    /// Drops crawlers' events; nil with `--keep-bots`.
    var crawlerFilter: CrawlerFilter?
    /// Destinations events are pushed to (`Gateway+destinations.swift`); nil answers their routes 501.
    var integrations: Integrations?
    /// Locates tracking requests' clients (`Gateway+geoIP.swift`); nil: events are stored unlocated.
    var geoIP: GeoIPLocator?

    /// `runtime` must be shared by the gateways of all of a server's loops; without one, this gateway gets its own.
    public init(store: Store, access: GatewayAccess = GatewayAccess(), traffic: TrafficPolicy = TrafficPolicy(),
                runtime: GatewayRuntime? = nil) {
        self.store = store
        self.access = access
        self.traffic = traffic
        self.runtime = runtime ?? GatewayRuntime(storage: store.metrics)
        self.crawlerFilter = self.runtime.crawlers.map(CrawlerFilter.init)
    }

    public func finished(_ status: HTTPStatus, label: UInt8) {
        runtime.metrics.countResponse(status, route: label)
    }

    public func handle(_ request: HTTPRequest, _ response: inout HTTPResponseWriter) {
        response.label = GatewayMetrics.Route(path: request.path).rawValue
        if Self.answersAnyHost(request) {
            crossOrigin = request.pathIs("/api/track") ? Self.trackCrossOrigin(request) : .none
        } else {
            crossOrigin = privateCrossOrigin(request)
            guard hostAllowed(request) else {
                misdirected(request, &response)
                return
            }
            guard !crossSiteWrite(request) else {
                crossSiteRefused(request, &response)
                return
            }
        }
        guard admit(request, &response) else { return }
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
        } else if request.pathIs("/api/funnel") {
            switch request.method {
            case .post: funnel(request, &response)
            case .options: preflight(request, &response, methods: "POST, OPTIONS")
            default: methodNotAllowed(request, &response, allow: "POST, OPTIONS")
            }
        } else if request.pathIs("/api/v2/query") {
            switch request.method {
            case .post: plausibleQuery(request, &response)
            case .options: preflight(request, &response, methods: "POST, OPTIONS")
            default: methodNotAllowed(request, &response, allow: "POST, OPTIONS")
            }
        } else if let route = Self.listRoute(request.path) {
            switch request.method {
            case .get, .head: list(route, request, &response)
            case .delete: erase(route, request, &response)
            case .options:
                if case .visitor = route { preflight(request, &response, methods: "GET, HEAD, DELETE, OPTIONS") }
                else { preflight(request, &response, methods: "GET, HEAD, OPTIONS") }
            default:
                if case .visitor = route { methodNotAllowed(request, &response, allow: "GET, HEAD, DELETE, OPTIONS") }
                else { methodNotAllowed(request, &response, allow: "GET, HEAD, OPTIONS") }
            }
        } else if request.pathIs("/clarm.js") || request.pathIs("/") {
            switch request.method {
            case .get, .head: serve(request.pathIs("/") ? Self.dashboard : Self.loader, request, &response)
            default: methodNotAllowed(request, &response, allow: "GET, HEAD")
            }
        } else if let route = Self.siteRoute(request.path) {
            sites(route, request, &response)
        } else if request.pathIs("/favicon.svg") || request.pathIs("/favicon.ico") {
            switch request.method {
            case .get, .head: serve(Self.favicon, request, &response)
            default: methodNotAllowed(request, &response, allow: "GET, HEAD")
            }
        } else if request.pathIs("/healthz") {
            switch request.method {
            case .get, .head:
                health(request, &response)
            default:
                methodNotAllowed(request, &response, allow: "GET, HEAD")
            }
        } else if let route = Self.destinationRoute(request.path) {
            destinations(route, request, &response)
        } else if request.pathIs("/metrics") {
            switch request.method {
            case .get, .head: metrics(request, &response)
            default: methodNotAllowed(request, &response, allow: "GET, HEAD")
            }
        } else if request.pathIs("/api/cluster") {
            cluster(request, &response)
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
        guard path.count > prefix.count, path.prefix(prefix.count).elementsEqual(prefix) else { return personRoute(path) }
        return .visitor(URLParts.decode(path.dropFirst(prefix.count), plusIsSpace: false))
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

    /// Sends `json` as the body of a `status` response, with the route's CORS headers.
    func send(_ status: HTTPStatus, _ request: HTTPRequest, _ response: inout HTTPResponseWriter,
              retryAfter: Int? = nil) {
        response.start(status)
        crossOrigin.write(&response)
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

    func methodNotAllowed(_ request: HTTPRequest, _ response: inout HTTPResponseWriter, allow: StaticString) {
        json.reset()
        json.raw(#"{"error":"method not allowed"}"#)
        response.start(.methodNotAllowed)
        response.header("Allow", allow)
        crossOrigin.write(&response)
        json.bytes.withUnsafeBytes { response.body($0, contentType: "application/json") }
    }
}
