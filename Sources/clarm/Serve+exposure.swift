import ArgumentParser
import ClarmGateway
import ClarmServer
import ClarmSystem
import Logging

/// What `serve` decides about being reachable: descriptors, the names and origins the private routes accept,
/// and the query API's keys.
extension Serve {
    /// Raises the soft descriptor limit to the hard one; returns the limit in force.
    func raiseDescriptorLimit(_ logger: Logger) -> Int {
        do {
            let (before, after) = try DescriptorLimit.raiseToHard()
            if after > before { logger.info("descriptor limit raised from \(before) to \(after) (the hard limit)") }
            return after
        } catch {
            logger.warning("cannot raise the descriptor limit: \(error)")
            return (try? DescriptorLimit.current()) ?? 1024
        }
    }

    /// A key must be long enough not to be guessed: 16 bytes or more, such as `openssl rand -hex 32` makes.
    static func validateKeys(_ keys: [String]) throws {
        if let short = keys.first(where: { $0.utf8.count < 16 }) {
            throw ValidationError("API keys must be at least 16 bytes (one is \(short.utf8.count)); make one with: openssl rand -hex 32")
        }
    }

    func validateExposure() throws {
        try Self.validateKeys(apiKeys)
        for name in publicHosts where name.isEmpty || name.contains(where: { $0 == "/" || $0 == "@" || $0.isWhitespace }) {
            throw ValidationError("--public-host takes a host name such as analytics.example.com, not \"\(name)\"")
        }
        for origin in dashboardOrigins {
            let parts = origin.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0] == "https:" || parts[0] == "http:", parts[1].isEmpty, !parts[2].isEmpty else {
                throw ValidationError("--dashboard-origin takes an origin such as https://dash.example.com (scheme, host, optional port; no path), not \"\(origin)\"")
            }
        }
    }

    /// The private routes' rules. On an address other machines reach, the query API needs a key: without one it
    /// answers 401 to everyone rather than handing out visitors' data.
    func gatewayAccess(apiKeys: [String], _ logger: Logger) throws(ServerError) -> GatewayAccess {
        let exposed = try !Listener.isLoopback(host: host)
        if exposed && apiKeys.isEmpty {
            logger.warning("\(host) is reachable from other machines and no --api-key is set: the query API answers 401 to every request until one is")
        } else if apiKeys.isEmpty {
            logger.notice("no --api-key: the query API answers any client on this machine")
        }
        return GatewayAccess(apiKeys: apiKeys, listenHost: host, publicHosts: publicHosts,
                             dashboardOrigins: dashboardOrigins, exposed: exposed)
    }
}
