import ClarmHTTP
import ClarmServer

/// Cross-origin access (Fetch standard, CORS protocol): sites post events from their own origin.
extension Gateway {
    /// Lets the requesting origin read the response; responses vary by Origin, so caches must key on it.
    func allowOrigin(_ request: HTTPRequest, _ response: inout HTTPResponseWriter) {
        Self.allowOrigin(request.header("origin"), &response)
    }

    /// The same for a response written after the request is gone, from a copy of its Origin.
    static func allowOrigin(_ origin: [UInt8]?, _ response: inout HTTPResponseWriter) {
        if let origin {
            origin.withUnsafeBytes { allowOrigin($0, &response) }
        } else {
            allowOrigin(UnsafeRawBufferPointer?.none, &response)
        }
    }

    static func allowOrigin(_ origin: UnsafeRawBufferPointer?, _ response: inout HTTPResponseWriter) {
        if let origin {
            response.header("Access-Control-Allow-Origin", origin)
            response.header("Vary", "Origin")
        } else {
            response.header("Access-Control-Allow-Origin", "*")
        }
    }

    /// Answers an `OPTIONS` preflight with 204 and the methods and headers the route accepts.
    func preflight(_ request: HTTPRequest, _ response: inout HTTPResponseWriter, methods: StaticString) {
        response.start(.noContent)
        allowOrigin(request, &response)
        response.header("Access-Control-Allow-Methods", methods)
        if let requested = request.header("access-control-request-headers") {
            response.header("Access-Control-Allow-Headers", requested)
        } else {
            response.header("Access-Control-Allow-Headers", "Content-Type, Authorization")
        }
        response.header("Access-Control-Max-Age", 86400)
        response.noBody()
    }
}
