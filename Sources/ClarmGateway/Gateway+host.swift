import ClarmHTTP
import ClarmServer

/// DNS rebinding: a page on `evil.example` whose name is re-pointed at the gateway's address reads it as same-origin,
/// so CORS cannot stop it, but its requests carry `Host: evil.example`. Private routes answer only the names the
/// gateway is known by (`GatewayAccess`); the others get 421 Misdirected Request.
extension Gateway {
    /// Routes every site reaches under names of its own: the loader, the tracking endpoint, liveness, the icon.
    /// Everything else, routes added later included, is private.
    static func answersAnyHost(_ request: HTTPRequest) -> Bool {
        request.pathIs("/api/track") || request.pathIs("/clarm.js") || request.pathIs("/healthz")
            || request.pathIs("/favicon.ico") || request.pathIs("/favicon.svg")
    }

    /// Whether the request names this gateway: the authority of an absolute-form target (RFC 9112 §3.2.2: it
    /// overrides `Host`), else the `Host` header. A request with neither is refused.
    func hostAllowed(_ request: HTTPRequest) -> Bool {
        if let authority = Self.absoluteFormAuthority(request) { return access.allowsHost(authority) }
        guard let host = request.header("host") else { return false }
        return access.allowsHost(host)
    }

    /// Answers 421 with what to do about it.
    func misdirected(_ request: HTTPRequest, _ response: inout HTTPResponseWriter) {
        sendError(.misdirectedRequest,
                  "this gateway does not answer to this Host name here; use its address, localhost, or a name given with --public-host",
                  request, &response)
    }

    /// `example.com:80` of `GET http://example.com:80/path?q HTTP/1.1`; nil for other forms of target. The parser
    /// has checked the form: a scheme, `://`, the authority, then the path it found.
    static func absoluteFormAuthority(_ request: HTTPRequest) -> UnsafeRawBufferPointer? {
        let target = request.head.target
        let first = request.bytes[target.lowerBound]
        guard first != UInt8(ascii: "/"), first != UInt8(ascii: "*"),
              let colon = request.bytes[target].firstIndex(of: UInt8(ascii: ":")) else { return nil }
        return UnsafeRawBufferPointer(rebasing: request.bytes[(colon + 3)..<request.head.path.lowerBound])
    }
}

extension HTTPStatus {
    static let misdirectedRequest = HTTPStatus(code: 421, reasonPhrase: "Misdirected Request")
}
