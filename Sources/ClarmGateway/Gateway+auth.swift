import ClarmHTTP
import ClarmServer

/// API keys on the query routes.
extension Gateway {
    /// Query routes need `Authorization: Bearer <key>` when keys are configured; a missing or wrong key gets 401.
    /// Without keys they answer only requests made on this machine: not ones a proxy forwarded.
    /// On a listener other machines can reach, with no key configured, they refuse everyone: an open query API
    /// there would hand visitors' identities to anyone.
    func authorized(_ request: HTTPRequest, _ response: inout HTTPResponseWriter) -> Bool {
        if access.queryAPIDisabled {
            unauthorized("the query API is off: this gateway listens on an address other machines can reach and has no API key; "
                         + "start it with --api-key or --api-key-file (or listen on 127.0.0.1)", request, &response)
            return false
        }
        if access.apiKeys.isEmpty {
            // Keyless is for this machine only: a request a proxy forwarded comes from elsewhere.
            guard request.header("x-forwarded-for") != nil else { return true }
            unauthorized("this gateway has no API key, so it answers queries from its own machine only; this request came "
                         + "through a proxy (X-Forwarded-For): configure --api-key or --api-key-file", request, &response)
            return false
        }
        if let key = Self.bearerToken(request.header("authorization")), access.apiKeys.accepts(key) { return true }
        unauthorized("a valid API key is required: send Authorization: Bearer <key>", request, &response)
        return false
    }

    /// `/metrics` answers a scraper on this machine (a loopback peer with no proxy in between) without a key, and
    /// anyone else only with a valid key: with no key configured, only loopback scrapers.
    func metricsAuthorized(_ request: HTTPRequest, _ response: inout HTTPResponseWriter) -> Bool {
        if request.peer.isLoopback && request.header("x-forwarded-for") == nil { return true }
        if let key = Self.bearerToken(request.header("authorization")), access.apiKeys.accepts(key) { return true }
        unauthorized("metrics are served to this machine's own scrapers, or with a valid API key (Authorization: Bearer <key>)",
                     request, &response)
        return false
    }

    private func unauthorized(_ message: String, _ request: HTTPRequest, _ response: inout HTTPResponseWriter) {
        json.reset()
        json.raw(#"{"error":"#)
        json.string(message)
        json.raw("}")
        response.start(.unauthorized)
        response.header("WWW-Authenticate", "Bearer")
        crossOrigin.write(&response)
        json.bytes.withUnsafeBytes { response.body($0, contentType: "application/json") }
    }

    /// The token of `Bearer <token>` (the scheme is case-insensitive, RFC 9110 §11.1).
    static func bearerToken(_ header: UnsafeRawBufferPointer?) -> UnsafeRawBufferPointer? {
        guard let header, header.count > 7,
              zip(header.prefix(6), "bearer".utf8).allSatisfy({ $0 | 0x20 == $1 }), header[6] == 0x20
        else { return nil }
        return UnsafeRawBufferPointer(rebasing: header[7...])
    }
}
