import ClarmHTTP
import ClarmServer

/// Cross-site request forgery: any page a browser on the operator's machine opens can make it send a simple
/// `POST` (`text/plain`, no preflight) to the gateway; CORS hides the answer, not the effect. Without a key the
/// gateway trusts its own machine, so such a request could register sites or a destination that receives
/// every event. Browsers name the page's origin in `Origin` on every `POST`, `PUT` and `DELETE`: private
/// routes refuse a state-changing request from an origin other than the gateway's own or a
/// `--dashboard-origin`. Clients that are not browsers send no `Origin` and are not affected.
extension Gateway {
    func crossSiteWrite(_ request: HTTPRequest) -> Bool {
        switch request.method {
        case .get, .head, .options: return false
        default: break
        }
        guard let origin = request.header("origin") else { return false }
        if access.allowsDashboardOrigin(origin) { return false }
        return !Self.isSameOrigin(origin, host: request.header("host"))
    }

    /// Whether `origin` (`scheme://authority`) names the host the request was sent to. Ports are not compared:
    /// a TLS proxy passes `Host` without the public port (nginx's `$host`).
    static func isSameOrigin(_ origin: UnsafeRawBufferPointer, host: UnsafeRawBufferPointer?) -> Bool {
        guard let host, let hostName = GatewayAccess.hostName(host) else { return false }
        let separator = Array("://".utf8)
        guard let start = (0...max(0, origin.count - separator.count)).first(where: {
            origin.count >= separator.count && origin[$0..<($0 + separator.count)].elementsEqual(separator)
        }) else { return false }
        let authority = UnsafeRawBufferPointer(rebasing: origin[(start + separator.count)...])
        return GatewayAccess.hostName(authority) == hostName
    }

    func crossSiteRefused(_ request: HTTPRequest, _ response: inout HTTPResponseWriter) {
        sendError(.forbidden, "cross-site request refused: a page of another origin may not change this gateway (add its origin with --dashboard-origin if it is yours)",
                  request, &response)
    }
}
