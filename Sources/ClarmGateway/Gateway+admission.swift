import ClarmHTTP
import ClarmServer
import ClarmSystem

extension Gateway {
    /// Applies the per-address request limit; answers `429` with `Retry-After` and returns false when the
    /// client is over it. Loopback clients without `X-Forwarded-For` (local tools, benchmarks) are not limited.
    func admit(_ request: HTTPRequest, _ response: inout HTTPResponseWriter) -> Bool {
        guard let limiter = traffic.requestsPerAddress else { return true }
        let client = traffic.clients.client(of: request)
        if request.peer.isLoopback && !client.forwarded { return true }
        guard let retryAfter = limiter.take(client.address, now: monotonicMilliseconds()) else { return true }
        sendError(.tooManyRequests, "too many requests from \(client.address): at most \(limiter.rate) a second in bursts of \(limiter.burst); retry after \(retryAfter) s",
                  request, &response, retryAfter: retryAfter)
        return false
    }
}
